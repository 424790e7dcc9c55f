import t from 'tap'
import fc from 'fast-check'
import { deepStrictEqual } from 'node:assert'
import {
  type ConditionNode, type LiteralValue, type OperandNode,
  ConditionError, compileCondition, parseCondition, printCondition
} from '../../lib/condition/index.js'
import { KEYWORDS } from '../../lib/condition/parser.js'

const roundTrip = (source: string) => printCondition(parseCondition(source))

t.test('canonical spelling', async t => {
  t.equal(roundTrip('a AND b or NOT c'), 'a && b || !c')
  t.equal(roundTrip('((a))  &&(b)'), 'a && b')
  t.equal(roundTrip('(a && b) && c'), '(a && b) && c', 'a nested chain keeps its parentheses')
  t.equal(roundTrip('(a || b) || c'), '(a || b) || c')
  t.equal(roundTrip('(a || b) && c'), '(a || b) && c')
  t.equal(roundTrip('a || (b && c)'), 'a || b && c', 'needless parentheses go')
  t.equal(roundTrip('not (a or b)'), '!(a || b)')
  t.equal(roundTrip('!(a == 1)'), '!a == 1')
  t.equal(roundTrip('x>=1.50'), 'x >= 1.5')
  t.equal(roundTrip('x == 1e3 && y == -2.5E-3 && z == 1e21'), 'x == 1000 && y == -0.0025 && z == 1e+21')
  t.equal(roundTrip('x == -0'), 'x == 0')
  t.equal(roundTrip('x == TRUE || y != Null'), 'x == true || y != null')
  t.equal(roundTrip('x == "double"'), "x == 'double'")
  t.equal(roundTrip(String.raw`x == "it's \\ \"q\"\n\t\r"`), String.raw`x == 'it\'s \\ "q"\n\t\r'`)
  t.equal(roundTrip(String.raw`x == '\u0001\u007f\u00e9'`), String.raw`x == '\u0001\u007fé'`, 'controls stay escaped')
  t.equal(roundTrip(String.raw`x == '\ud800!'`), String.raw`x == '\ud800!'`, 'a lone surrogate stays escaped')
  t.equal(roundTrip(String.raw`x == '\ud83d\ude00'`), "x == '😀'", 'a surrogate pair is a character')
})

t.test('function arguments print bare when they can', async t => {
  t.equal(roundTrip("has_field('status')"), 'has_field(status)')
  t.equal(roundTrip("HAS_FIELD('a.b')"), 'has_field(a.b)')
  t.equal(roundTrip("has_field('first name')"), "has_field('first name')")
  t.equal(roundTrip("has_field('0.a')"), "has_field('0.a')")
  t.equal(roundTrip("has_field('it''s')".replace("''", "\\'")), String.raw`has_field('it\'s')`)
  t.equal(roundTrip('has_field(null)'), 'has_field(null)')
  t.equal(roundTrip('field_changed_to(a, "x") && field_changed_from(b, NULL)'),
    "field_changed_to(a, 'x') && field_changed_from(b, null)")
})

t.test('a path with no source form is refused', async t => {
  t.throws(() => printCondition({ type: 'path', path: ['a b'] }), TypeError)
  t.throws(() => printCondition({ type: 'path', path: ['null'] }), TypeError)
  t.throws(() => printCondition({ type: 'path', path: [] }), TypeError)
  t.equal(printCondition({ type: 'path', path: ['data', 'null'] }), 'data.null')
})

// Generators for syntax trees. Single-segment paths must not be keywords (they would read back
// as literals or operators); numbers exclude -0, which the lexer reads as 0.
const head = fc.oneof(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,5}$/), fc.constantFrom('données', 'état'))
const tail = fc.stringMatching(/^[a-zA-Z0-9_]{1,5}$/)
const path = fc.tuple(head, fc.array(tail, { maxLength: 2 })).map(([h, rest]) => [h, ...rest])
  .filter(p => p.length > 1 || !KEYWORDS.has(p[0].toLowerCase()))
const text = fc.string({ maxLength: 8, unit: fc.oneof(fc.constantFrom("'", '"', '\\', '\n', '\u0001', '\ud800', 'é', '😀'), fc.string({ minLength: 1, maxLength: 1 })) })
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })).map(n => n === 0 ? 0 : n)
const literal: fc.Arbitrary<LiteralValue> = fc.oneof(text, number, fc.boolean(), fc.constant(null))
const operand: fc.Arbitrary<OperandNode> = fc.oneof(
  literal.map(value => ({ type: 'literal' as const, value })),
  path.map(p => ({ type: 'path' as const, path: p }))
)
// fc.record may build null-prototype objects, which deepStrictEqual tells apart from parsed ones.
const plain = <T extends object>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> => arb.map(value => ({ ...value }))
const argPath = fc.array(fc.string({ minLength: 1, maxLength: 4 }).filter(s => !s.includes('.')), { minLength: 1, maxLength: 3 })
const leaf: fc.Arbitrary<ConditionNode> = fc.oneof(
  operand,
  plain(fc.record({
    type: fc.constant('compare' as const),
    op: fc.constantFrom('==', '!=', '>', '<', '>=', '<=' as const),
    left: operand,
    right: operand
  })),
  plain(fc.record({
    type: fc.constant('call' as const),
    name: fc.constantFrom('has_field', 'field_changed' as const),
    path: fc.oneof(path, argPath)
  })),
  plain(fc.record({
    type: fc.constant('call' as const),
    name: fc.constantFrom('field_changed_to', 'field_changed_from' as const),
    path: fc.oneof(path, argPath),
    value: literal
  }))
)
const tree = fc.letrec<{ node: ConditionNode }>(tie => ({
  node: fc.oneof({ maxDepth: 4, depthIdentifier: 'tree' },
    leaf,
    tie('node').map(operand => ({ type: 'not' as const, operand })),
    plain(fc.record({ type: fc.constantFrom('and', 'or' as const), operands: fc.array(tie('node'), { minLength: 2, maxLength: 3 }) }))
  )
})).node

t.test('parse(print(tree)) deep-equals tree', async t => {
  t.doesNotThrow(() => fc.assert(fc.property(tree, node => {
    const source = printCondition(node)
    fc.pre(Buffer.byteLength(source) <= 4096)
    deepStrictEqual(parseCondition(source), node)
    deepStrictEqual(printCondition(parseCondition(source)), source)
  }), { numRuns: 2000 }))
})

t.test('random text never throws anything but ConditionError', async t => {
  const words = fc.constantFrom('(', ')', '!', '&&', '||', '==', '!=', '>=', '<', ',', 'a', 'b.c', "'x'", '"y', '\\',
    '1', '-2.5', '1e', 'true', 'NULL', 'and', 'OR', 'not', 'has_field', 'field_changed_to', 'foo', ' ', '.', '=', '#')
  const source = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 30 }),
    fc.array(words, { maxLength: 25 }).map(parts => parts.join('')), fc.array(words, { maxLength: 25 }).map(parts => parts.join(' ')))
  const data = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'x', 'status'), fc.jsonValue({ maxDepth: 2 }))
  let parsed = 0
  t.doesNotThrow(() => fc.assert(fc.property(source, data, (src, record) => {
    let node: ConditionNode
    try {
      node = parseCondition(src)
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err
      if (!Number.isInteger(err.position) || err.position < 0 || err.position > src.length) throw new Error('bad position')
      return
    }
    parsed++
    deepStrictEqual(parseCondition(printCondition(node)), node)
    const result = compileCondition(src)({ ...EVENT, data: record as Record<string, unknown>, before: record as Record<string, unknown> })
    if (typeof result !== 'boolean') throw new Error('not a boolean')
  }), { numRuns: 5000 }))
  t.ok(parsed > 0, `some random sources parse (${parsed})`)
})

const EVENT = {
  event_id: 'e',
  event_type: 'UPDATE' as const,
  entity_type: 't',
  entity_id: '1',
  tenant_id: null,
  user_id: null,
  timestamp: '2024-01-01T00:00:00.000Z',
  data: null,
  before: null,
  changes: null,
  trace_id: null,
  change_log_id: null
}
