// Walks over what a request carries (a parsed body, query or params), without recursion: the
// check below must hold on input nested far deeper than the call stack allows.
//
// Text PostgreSQL refuses is caught here, before any query: `text` refuses the NUL byte, `jsonb`
// refuses it and a lone UTF-16 surrogate (JSON.stringify keeps `"\ud800"`; a `text` column would
// silently store U+FFFD instead). Nesting is capped too: the routes' own walks over actions
// (redaction, templates) and PostgreSQL's JSON parser recurse, and give out at a few thousand levels.

/** Deepest nesting a request part may have, counting from the part itself (`body` is level 0). */
export const MAX_DEPTH = 100

export interface Unstorable { path: string, message: string }

interface Node { value: unknown, parent: Node | undefined, key: string, depth: number }

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** What in `text` PostgreSQL cannot store, or undefined. */
function textProblem (text: string): string | undefined {
  if (text.includes('\u0000')) return 'a NUL byte (U+0000)'
  const lone = LONE_SURROGATE.exec(text)
  if (lone !== null) return `a lone UTF-16 surrogate (U+${lone[0].charCodeAt(0).toString(16).toUpperCase()})`
  return undefined
}

// JSON Pointer segments, as the schema validator writes them
const segment = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1')

function pathOf (node: Node, limit = Infinity): string {
  const segments: string[] = []
  for (let n: Node | undefined = node; n?.parent !== undefined; n = n.parent) segments.push(segment(n.key))
  segments.reverse()
  const shown = segments.slice(0, limit).map((s) => `/${s}`).join('')
  return segments.length > limit ? `${shown}/…` : shown
}

/**
 * Visits every value under `root` in document order, and every property name (`key` true, with the
 * object's node); stops at the first visit returning something and returns it.
 */
function walk<T> (root: unknown, visit: (value: unknown, node: Node, key: boolean) => T | undefined): T | undefined {
  const stack: Node[] = [{ value: root, parent: undefined, key: '', depth: 0 }]
  while (stack.length > 0) {
    const node = stack.pop() as Node
    const { value, depth } = node
    const found = visit(value, node, false)
    if (found !== undefined) return found
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], parent: node, key: String(i), depth: depth + 1 })
    } else if (typeof value === 'object' && value !== null) {
      const keys = Object.keys(value)
      for (const key of keys) {
        const found = visit(key, node, true)
        if (found !== undefined) return found
      }
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ value: (value as Record<string, unknown>)[keys[i]], parent: node, key: keys[i], depth: depth + 1 })
      }
    }
  }
  return undefined
}

/** The first string (or property name) PostgreSQL cannot store, or nesting beyond MAX_DEPTH. */
export function findUnstorable (root: unknown): Unstorable | undefined {
  return walk<Unstorable>(root, (value, node, key) => {
    if (typeof value === 'string') {
      const problem = textProblem(value)
      if (problem === undefined) return undefined
      return { path: pathOf(node), message: key ? `must not have a property name containing ${problem}` : `must not contain ${problem}` }
    }
    if (node.depth === MAX_DEPTH && typeof value === 'object' && value !== null) {
      return { path: pathOf(node, 8), message: `must not be nested deeper than ${MAX_DEPTH} levels` }
    }
    return undefined
  })
}

/** Every string and number of a request part, with its path (`/actions/0/url`), in document order. */
export function valuesOf (root: unknown): Array<{ path: string, value: string | number }> {
  const out: Array<{ path: string, value: string | number }> = []
  walk(root, (value, node, key) => {
    if (!key && (typeof value === 'string' || typeof value === 'number')) out.push({ path: pathOf(node), value })
  })
  return out
}
