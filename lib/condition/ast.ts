// The condition language's syntax tree. Nodes carry no source positions, so a tree parsed from
// printCondition(tree) deep-equals the original (the round-trip property the tests check).

/** Source limits from SPEC section 4; checked before any recursion so hostile input stays cheap. */
export const MAX_CONDITION_BYTES = 4096
export const MAX_CONDITION_DEPTH = 64

export type LiteralValue = string | number | boolean | null

export interface LiteralNode { type: 'literal', value: LiteralValue }

/** A dotted field path, one entry per segment (`customer.tier` → `['customer', 'tier']`). */
export interface PathNode { type: 'path', path: string[] }

export type OperandNode = LiteralNode | PathNode

export type CompareOp = '==' | '!=' | '>' | '<' | '>=' | '<='
export const COMPARE_OPS: readonly CompareOp[] = ['==', '!=', '>', '<', '>=', '<=']

export interface CompareNode { type: 'compare', op: CompareOp, left: OperandNode, right: OperandNode }

export type UnaryFunction = 'has_field' | 'field_changed'
export type BinaryFunction = 'field_changed_to' | 'field_changed_from'
export type FunctionName = UnaryFunction | BinaryFunction

/** `path` is relative to `data` (a leading `data.` is ignored when compiled). */
export type CallNode =
  | { type: 'call', name: UnaryFunction, path: string[] }
  | { type: 'call', name: BinaryFunction, path: string[], value: LiteralValue }

export interface NotNode { type: 'not', operand: ConditionNode }

/** `a && b && c` is one node with three operands: a flat chain adds one level of depth, not three. */
export interface LogicalNode { type: 'and' | 'or', operands: ConditionNode[] }

/** A literal or a path in boolean position is truth-tested (null, false, 0 and '' are false). */
export type ConditionNode = OperandNode | CompareNode | CallNode | NotNode | LogicalNode

export const FUNCTION_ARITY: Readonly<Record<FunctionName, 1 | 2>> = Object.freeze({
  has_field: 1,
  field_changed: 1,
  field_changed_to: 2,
  field_changed_from: 2
})

export function isFunctionName (name: string): name is FunctionName {
  return Object.hasOwn(FUNCTION_ARITY, name)
}
