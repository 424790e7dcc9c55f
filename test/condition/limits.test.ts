import t from 'tap'
import {
  MAX_CONDITION_BYTES, MAX_CONDITION_DEPTH, checkCondition, parseCondition
} from '../../lib/condition/index.js'
import { tokenize } from '../../lib/condition/lexer.js'
import { Parser } from '../../lib/condition/parser.js'
import { conditionErrorOf, parseCase } from '../helpers/condition.js'

const parens = (n: number, inner = 'a') => '('.repeat(n) + inner + ')'.repeat(n)
/** `x && (x && (... x))`: every level adds a parenthesis and a binary operator, depth 2 per level. */
const chain = (levels: number): string => levels === 0 ? 'x' : `x && (${chain(levels - 1)})`

t.test('the limits are the ones SPEC names', async t => {
  t.equal(MAX_CONDITION_BYTES, 4096)
  t.equal(MAX_CONDITION_DEPTH, 64)
})

t.test('4096 bytes of source are accepted, 4097 refused', async t => {
  const exactly = (bytes: number) => `a == '${'x'.repeat(bytes - 7)}'`
  t.equal(Buffer.byteLength(exactly(4096)), 4096)
  t.equal(parseCondition(exactly(4096)).type, 'compare')
  t.same(...parseCase(exactly(4097), 'condition exceeds 4096 bytes', 4096))
  t.same(checkCondition(exactly(4097)), { ok: false, message: 'condition exceeds 4096 bytes', position: 4096 })
})

t.test('the byte limit counts UTF-8, and the position is a character offset', async t => {
  const twoByte = `a == '${'é'.repeat(2044)}'` // 7 + 2 * 2044 = 4095 bytes
  t.equal(Buffer.byteLength(twoByte), 4095)
  t.equal(parseCondition(twoByte).type, 'compare')
  t.equal(parseCondition(twoByte + ' ').type, 'compare', '4096 bytes')
  // The closing quote is byte 4097.
  t.same(...parseCase(`a == '${'é'.repeat(2045)}'`, 'condition exceeds 4096 bytes', 2051))
  // 6 + 4 * 1023 + 1 = 4099 bytes: the last emoji crosses the limit, at character 6 + 2 * 1022.
  t.same(...parseCase(`a == '${'😀'.repeat(1023)}'`, 'condition exceeds 4096 bytes', 6 + 2 * 1022))
  const threeByte = `'${'€'.repeat(1364)}'` // 2 + 3 * 1364 = 4094 bytes
  t.equal(parseCondition(threeByte).type, 'literal')
  t.same(...parseCase(`'${'€'.repeat(1365)}'`, 'condition exceeds 4096 bytes', 1366))
})

t.test('nesting depth 64 is accepted, 65 refused', async t => {
  t.same(parseCondition(parens(64)), { type: 'path', path: ['a'] }, '64 parentheses')
  t.same(...parseCase(parens(65), 'condition nesting exceeds depth 64 at position 64', 64))
  t.equal(parseCondition('!'.repeat(64) + 'a').type, 'not', '64 negations')
  t.same(...parseCase('!'.repeat(65) + 'a', 'condition nesting exceeds depth 64 at position 64', 64))
  t.equal(parseCondition('NOT '.repeat(64) + 'a').type, 'not', '64 NOT keywords')
  t.same(...parseCase('not '.repeat(65) + 'a', 'condition nesting exceeds depth 64 at position 256', 256))
  t.equal(parseCondition('!('.repeat(32) + 'a' + ')'.repeat(32)).type, 'not', '32 × (! and a parenthesis)')
  t.same(...parseCase('!('.repeat(32) + '!a' + ')'.repeat(32), 'condition nesting exceeds depth 64 at position 64', 64))
})

t.test('binary operators count towards depth; a flat chain counts once', async t => {
  t.equal(parseCondition(chain(32)).type, 'and', 'depth 64')
  // Reported at the parenthesis that takes the inner chain past 64.
  t.same(...parseCase(chain(33), 'condition nesting exceeds depth 64 at position 5', 5))
  t.equal(parseCondition(parens(63, 'a && b')).type, 'and', '63 parentheses around an operator')
  t.same(...parseCase(parens(64, 'a && b'), 'condition nesting exceeds depth 64 at position 0', 0))
  t.same(...parseCase('!'.repeat(64) + '(a || b)', 'condition nesting exceeds depth 64 at position 64', 64))
  // Counted bottom-up: the outermost '!' is the 65th level.
  t.same(...parseCase('!'.repeat(63) + '(a || b)', 'condition nesting exceeds depth 64 at position 0', 0))
  t.equal(parseCondition('!'.repeat(62) + '(a || b)').type, 'not')
  const flat = Array.from({ length: 400 }, (_, i) => `x${i}`).join(' || ')
  t.equal(Buffer.byteLength(flat) < 4096, true)
  const node = parseCondition(flat)
  t.equal(node.type === 'or' && node.operands.length, 400, '400 clauses in one chain')
})

t.test('deep input fails with a ConditionError, never a stack overflow', async t => {
  // parseCondition stops 10 000 parentheses at the byte limit, so drive the parser directly too.
  t.same(...parseCase(parens(10_000), 'condition exceeds 4096 bytes', 4096))
  t.same(conditionErrorOf(() => new Parser(tokenize(parens(10_000))).parse()),
    { message: 'condition nesting exceeds depth 64 at position 64', position: 64 })
  t.same(conditionErrorOf(() => new Parser(tokenize('!'.repeat(100_000) + 'a')).parse()),
    { message: 'condition nesting exceeds depth 64 at position 64', position: 64 })
  t.same(conditionErrorOf(() => new Parser(tokenize('('.repeat(100_000))).parse()),
    { message: 'condition nesting exceeds depth 64 at position 64', position: 64 })
  // 2000 pairs fit in the byte limit, so the depth check answers.
  t.same(...parseCase(parens(2000), 'condition nesting exceeds depth 64 at position 64', 64))
})
