// Walks over what a request carries (a parsed body, query or params), without recursion: the
// check below must hold on input nested far deeper than the call stack allows.
//
// Text PostgreSQL refuses is caught here, before any query: `text` refuses the NUL byte, `jsonb`
// refuses it and a lone UTF-16 surrogate (JSON.stringify keeps `"\ud800"`; a `text` column would
// silently store U+FFFD instead).

export interface Unstorable { path: string, message: string }

interface Node { value: unknown, parent: Node | undefined, key: string }

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

function pathOf (node: Node): string {
  const segments: string[] = []
  for (let n: Node | undefined = node; n?.parent !== undefined; n = n.parent) segments.push(segment(n.key))
  return segments.reverse().map((s) => `/${s}`).join('')
}

/**
 * Visits every value under `root` in document order, and every property name (`key` true, with the
 * object's node); stops at the first visit returning something and returns it.
 */
function walk<T> (root: unknown, visit: (value: unknown, node: Node, key: boolean) => T | undefined): T | undefined {
  const stack: Node[] = [{ value: root, parent: undefined, key: '' }]
  while (stack.length > 0) {
    const node = stack.pop() as Node
    const { value } = node
    const found = visit(value, node, false)
    if (found !== undefined) return found
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], parent: node, key: String(i) })
    } else if (typeof value === 'object' && value !== null) {
      const keys = Object.keys(value)
      for (const key of keys) {
        const found = visit(key, node, true)
        if (found !== undefined) return found
      }
      for (let i = keys.length - 1; i >= 0; i--) {
        stack.push({ value: (value as Record<string, unknown>)[keys[i]], parent: node, key: keys[i] })
      }
    }
  }
  return undefined
}

/** The first string (or property name) PostgreSQL cannot store. */
export function findUnstorable (root: unknown): Unstorable | undefined {
  return walk<Unstorable>(root, (value, node, key) => {
    if (typeof value === 'string') {
      const problem = textProblem(value)
      if (problem === undefined) return undefined
      return { path: pathOf(node), message: key ? `must not have a property name containing ${problem}` : `must not contain ${problem}` }
    }
    return undefined
  })
}
