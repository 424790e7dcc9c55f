// The condition language (SPEC sections 4 and 8): parse at save time, compile once per observer
// load, evaluate per event. Everything here is pure.
import { MAX_CONDITION_BYTES } from './ast.js'
import type { ConditionNode } from './ast.js'
import { type CompiledCondition, compileNode } from './compile.js'
import { ConditionError } from './errors.js'
import { tokenize } from './lexer.js'
import { Parser } from './parser.js'

export * from './ast.js'
export { ConditionError } from './errors.js'
export type { CompiledCondition } from './compile.js'
export { printCondition } from './print.js'
export { deepEqual, looseEqual, truthy } from './values.js'

export type ConditionCheck = { ok: true } | { ok: false, message: string, position: number }

const ALWAYS: CompiledCondition = () => true

/** Character offset at which the source passes the byte limit, or -1 when it fits. */
function overflowAt (source: string): number {
  // Three UTF-8 bytes per UTF-16 unit at most: short sources need no counting.
  if (source.length * 3 <= MAX_CONDITION_BYTES) return -1
  let bytes = 0
  for (let i = 0; i < source.length; i++) {
    const code = source.charCodeAt(i)
    const paired = code >= 0xd800 && code <= 0xdbff && (source.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : paired ? 4 : 3
    if (bytes > MAX_CONDITION_BYTES) return i
    if (paired) i++
  }
  return -1
}

/** Parses condition source into a tree; throws ConditionError (and nothing else) when invalid. */
export function parseCondition (source: string): ConditionNode {
  if (typeof source !== 'string') throw new ConditionError('condition must be a string', 0)
  const overflow = overflowAt(source)
  if (overflow >= 0) throw new ConditionError(`condition exceeds ${MAX_CONDITION_BYTES} bytes`, overflow)
  return new Parser(tokenize(source)).parse()
}

function isBlank (source: string | null | undefined): boolean {
  return source === null || source === undefined || (typeof source === 'string' && source.trim() === '')
}

/**
 * Compiles source once into a predicate that never throws. An empty or absent condition always
 * holds. Invalid source throws ConditionError here, at compile time, never at evaluation.
 */
export function compileCondition (source: string | null | undefined): CompiledCondition {
  if (isBlank(source)) return ALWAYS
  const predicate = compileNode(parseCondition(source as string))
  return event => {
    try {
      return predicate(event)
    } catch {
      // Only a malformed event (a throwing getter, a non-JSON value) can get here: no match.
      return false
    }
  }
}

/** Save-time validation: an empty or absent condition is valid (the observer has none). */
export function checkCondition (source: string | null | undefined): ConditionCheck {
  if (isBlank(source)) return { ok: true }
  try {
    parseCondition(source as string)
    return { ok: true }
  } catch (err) {
    if (err instanceof ConditionError) return { ok: false, message: err.message, position: err.position }
    throw err
  }
}
