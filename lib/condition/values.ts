// Value semantics shared by the evaluator and the event model. Events are parsed JSON, so only
// null, booleans, numbers, strings, arrays and plain objects need handling.

/** Plain decimal notation as JSON and Postgres write it: no hex, no Infinity, no blanks, no ''. */
const NUMERIC = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const INTEGER = /^-?\d+$/

/**
 * Structural equality of JSON values. Iterative (an explicit stack), so a deeply nested document
 * cannot overflow the call stack on the hot path. An absent key differs from a key holding null.
 */
export function deepEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  const stack: unknown[] = [a, b]
  while (stack.length > 0) {
    const y = stack.pop()
    const x = stack.pop()
    if (x === y) continue
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false
    const isArray = Array.isArray(x)
    if (isArray !== Array.isArray(y)) return false
    if (isArray) {
      const xs = x as unknown[]
      const ys = y as unknown[]
      if (xs.length !== ys.length) return false
      for (let i = 0; i < xs.length; i++) stack.push(xs[i], ys[i])
      continue
    }
    const xo = x as Record<string, unknown>
    const yo = y as Record<string, unknown>
    const keys = Object.keys(xo)
    if (keys.length !== Object.keys(yo).length) return false
    for (const key of keys) {
      if (!Object.hasOwn(yo, key)) return false
      stack.push(xo[key], yo[key])
    }
  }
  return true
}

/** null, undefined, false, 0 and '' are false; everything else (including [] and {}) is true. */
export function truthy (value: unknown): boolean {
  return !(value === null || value === undefined || value === false || value === 0 || value === '')
}

function asNumber (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value !== 'string' || !NUMERIC.test(value)) return undefined
  const n = Number(value)
  return Number.isFinite(n) ? n : undefined
}

/**
 * Orders two values when both are numbers or numeric strings; undefined when they are not
 * comparable (the caller then answers false). Two integer strings compare exactly through BigInt,
 * so bigint ids beyond 2^53 that arrive as text are never confused.
 */
export function compareNumeric (a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    return Number.isFinite(a) && Number.isFinite(b) ? Math.sign(a - b) : undefined
  }
  if (typeof a === 'string' && typeof b === 'string' && INTEGER.test(a) && INTEGER.test(b)) {
    const x = BigInt(a)
    const y = BigInt(b)
    return x === y ? 0 : x < y ? -1 : 1
  }
  const x = asNumber(a)
  const y = asNumber(b)
  if (x === undefined || y === undefined) return undefined
  return x === y ? 0 : x < y ? -1 : 1
}

/**
 * `==` of the condition language: missing (undefined) is null; numbers and numeric strings compare
 * by value (`100 == 100.0`, `'100.50' == 100.5`); arrays and objects structurally; nothing else
 * converts (`true != 'true'`, `1 != true`).
 */
export function looseEqual (a: unknown, b: unknown): boolean {
  const x = a === undefined ? null : a
  const y = b === undefined ? null : b
  if (x === y) return true
  if (x === null || y === null) return false
  const tx = typeof x
  const ty = typeof y
  if ((tx === 'number' || tx === 'string') && (ty === 'number' || ty === 'string')) {
    return compareNumeric(x, y) === 0
  }
  return tx === 'object' && ty === 'object' && deepEqual(x, y)
}
