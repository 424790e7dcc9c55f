import t from 'tap'
import fc from 'fast-check'
import { deepEqual, looseEqual, truthy } from '../../lib/condition/index.js'
import { compareNumeric } from '../../lib/condition/values.js'

t.test('deepEqual', async t => {
  t.equal(deepEqual(1, 1), true)
  t.equal(deepEqual('a', 'a'), true)
  t.equal(deepEqual(null, null), true)
  t.equal(deepEqual(1, '1'), false, 'no conversion')
  t.equal(deepEqual(null, undefined), false)
  t.equal(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }), true, 'key order does not matter')
  t.equal(deepEqual({ a: 1, b: [1, { c: 2 }] }, { a: 1, b: [1, { c: 3 }] }), false, 'a deep leaf differs')
  t.equal(deepEqual([1, 2], [2, 1]), false, 'array order matters')
  t.equal(deepEqual([1, 2], [1, 2, 3]), false)
  t.equal(deepEqual({ a: null }, {}), false, 'an absent key is not a null one')
  t.equal(deepEqual({ a: 1 }, { b: 1 }), false)
  t.equal(deepEqual([], {}), false, 'an array is not an object')
  t.equal(deepEqual({ 0: 'x', length: 1 }, ['x']), false)
  t.equal(deepEqual({}, null), false)
  t.equal(deepEqual([null], [undefined]), false)
})

t.test('deepEqual is iterative: very deep documents do not overflow the stack', async t => {
  let a: unknown = 1
  let b: unknown = 1
  for (let i = 0; i < 200_000; i++) { a = { x: a }; b = [b] }
  let c: unknown = 1
  for (let i = 0; i < 200_000; i++) c = { x: c }
  t.equal(deepEqual(a, c), true)
  t.equal(deepEqual(a, b), false)
})

t.test('deepEqual agrees with node:util on JSON values', async t => {
  const { isDeepStrictEqual } = await import('node:util')
  t.doesNotThrow(() => fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), (x, y) => {
    const a = JSON.parse(JSON.stringify(x))
    const b = JSON.parse(JSON.stringify(y))
    if (deepEqual(a, b) !== isDeepStrictEqual(a, b)) throw new Error('disagree')
    if (!deepEqual(a, JSON.parse(JSON.stringify(a)))) throw new Error('not reflexive')
  }), { numRuns: 2000 }))
})

t.test('looseEqual and compareNumeric', async t => {
  t.equal(looseEqual(undefined, null), true, 'missing is null')
  t.equal(looseEqual(100, '100.0'), true)
  t.equal(looseEqual('1.0', '1'), true)
  t.equal(looseEqual('abc', 'abc'), true)
  t.equal(looseEqual('abc', 'abd'), false)
  t.equal(looseEqual(true, 1), false)
  t.equal(looseEqual({ a: 1 }, { a: 1 }), true)
  t.equal(looseEqual([1], ['1']), false, 'no conversion inside structures')
  t.equal(compareNumeric(1, 2), -1)
  t.equal(compareNumeric('2', 1), 1)
  t.equal(compareNumeric('-3', '-3.0'), 0)
  t.equal(compareNumeric('12345678901234567890', '12345678901234567891'), -1, 'exact for long integers')
  t.equal(compareNumeric('a', 1), undefined)
  t.equal(compareNumeric(Number.NaN, 1), undefined)
  t.equal(compareNumeric(Infinity, 1), undefined)
  t.equal(compareNumeric(null, 0), undefined)
})

t.test('comparison laws hold for numbers and numeric strings', async t => {
  const value = fc.oneof(fc.integer({ min: -50, max: 50 }), fc.integer({ min: -50, max: 50 }).map(String),
    fc.double({ min: -50, max: 50, noNaN: true }).map(n => n.toString()), fc.constantFrom('x', null, true))
  t.doesNotThrow(() => fc.assert(fc.property(value, value, (a, b) => {
    if (looseEqual(a, b) !== looseEqual(b, a)) throw new Error('== not symmetric')
    const ab = compareNumeric(a, b)
    const ba = compareNumeric(b, a)
    if (ab === undefined ? ba !== undefined : ba !== -ab) throw new Error('ordering not antisymmetric')
    if (ab !== undefined && (ab === 0) !== looseEqual(a, b)) throw new Error('ordering disagrees with ==')
  }), { numRuns: 3000 }))
})

t.test('truthy', async t => {
  t.same([null, undefined, false, 0, ''].map(truthy), [false, false, false, false, false])
  t.same([true, 1, -1, 'x', '0', 'false', [], {}].map(truthy), [true, true, true, true, true, true, true, true])
})
