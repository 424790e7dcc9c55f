// Compiles a syntax tree into closures once, so evaluating an event does no parsing and no
// dispatch on node types. Path resolution is decided here, at compile time:
//   data.x / before.x / changes.x  → that member of the event (the bare word: the member itself)
//   event_type, entity_type, entity_id, tenant_id, user_id, event_id → the event's own field
//   anything else                  → read from data (`status` is `data.status`)
import type { ObserverEvent } from '../model.js'
import type { CompareOp, ConditionNode, LiteralValue, OperandNode } from './ast.js'
import { compareNumeric, deepEqual, looseEqual, truthy } from './values.js'

export type CompiledCondition = (event: ObserverEvent) => boolean
type Getter = (event: ObserverEvent) => unknown

const EVENT_FIELDS: Readonly<Record<string, Getter>> = {
  event_type: e => e.event_type,
  entity_type: e => e.entity_type,
  entity_id: e => e.entity_id,
  tenant_id: e => e.tenant_id,
  user_id: e => e.user_id,
  event_id: e => e.event_id
}

/** Own properties only, so `constructor` or `__proto__` in a path never reaches a prototype. */
export function readPath (root: unknown, path: readonly string[]): unknown {
  let value = root
  for (const segment of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, segment)) return null
    value = (value as Record<string, unknown>)[segment]
  }
  return value === undefined ? null : value
}

function hasPath (root: unknown, path: readonly string[]): boolean {
  const parent = readPath(root, path.slice(0, -1))
  return parent !== null && typeof parent === 'object' && Object.hasOwn(parent, path[path.length - 1])
}

function compilePath (path: readonly string[]): Getter {
  const [head, ...rest] = path
  if (path.length === 1 && Object.hasOwn(EVENT_FIELDS, head)) return EVENT_FIELDS[head]
  if (head === 'data' || head === 'before' || head === 'changes') {
    return rest.length === 0 ? e => e[head] ?? null : e => readPath(e[head], rest)
  }
  return e => readPath(e.data, path)
}

function compileOperand (node: OperandNode): Getter {
  if (node.type === 'path') return compilePath(node.path)
  const value = node.value
  return () => value
}

const COMPARATORS: Readonly<Record<CompareOp, (a: unknown, b: unknown) => boolean>> = {
  '==': looseEqual,
  '!=': (a, b) => !looseEqual(a, b),
  // An ordering between anything but numbers (or numeric strings) is false, strings included.
  '>': (a, b) => (compareNumeric(a, b) ?? 0) > 0,
  '<': (a, b) => (compareNumeric(a, b) ?? 0) < 0,
  '>=': (a, b) => { const c = compareNumeric(a, b); return c !== undefined && c >= 0 },
  '<=': (a, b) => { const c = compareNumeric(a, b); return c !== undefined && c <= 0 }
}

/** Function paths are relative to data; `data.x` is accepted as a spelling of `x`. */
function relativePath (path: string[]): string[] {
  return path.length > 1 && path[0] === 'data' ? path.slice(1) : path
}

/**
 * Change functions look at UPDATE (and CUSTOM) events that carry a before image; a missing field
 * reads as null on either side, and values compare structurally with no numeric coercion.
 */
function changedValues (e: ObserverEvent, path: string[]): [unknown, unknown] | null {
  if (e.before === null || (e.event_type !== 'UPDATE' && e.event_type !== 'CUSTOM')) return null
  const before = readPath(e.before, path)
  const after = readPath(e.data, path)
  return deepEqual(before, after) ? null : [before, after]
}

function compileCall (name: string, path: string[], value: LiteralValue): CompiledCondition {
  switch (name) {
    case 'has_field': return e => hasPath(e.data, path)
    case 'field_changed': return e => changedValues(e, path) !== null
    case 'field_changed_to': return e => { const c = changedValues(e, path); return c !== null && looseEqual(c[1], value) }
    default: return e => { const c = changedValues(e, path); return c !== null && looseEqual(c[0], value) }
  }
}

export function compileNode (node: ConditionNode): CompiledCondition {
  switch (node.type) {
    case 'literal': { const result = truthy(node.value); return () => result }
    case 'path': { const get = compilePath(node.path); return e => truthy(get(e)) }
    case 'compare': {
      const left = compileOperand(node.left)
      const right = compileOperand(node.right)
      const compare = COMPARATORS[node.op]
      return e => compare(left(e), right(e))
    }
    case 'call': return compileCall(node.name, relativePath(node.path), 'value' in node ? node.value : null)
    case 'not': { const inner = compileNode(node.operand); return e => !inner(e) }
    case 'and': {
      const parts = node.operands.map(compileNode)
      return e => parts.every(part => part(e))
    }
    case 'or': {
      const parts = node.operands.map(compileNode)
      return e => parts.some(part => part(e))
    }
  }
}
