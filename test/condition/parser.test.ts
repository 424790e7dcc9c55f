import t from 'tap'
import { type ConditionNode, parseCondition } from '../../lib/condition/index.js'
import { parseCase } from '../helpers/condition.js'

const path = (...segments: string[]): ConditionNode => ({ type: 'path', path: segments })
const lit = (value: string | number | boolean | null): ConditionNode => ({ type: 'literal', value })
const cmp = (left: ConditionNode, op: string, right: ConditionNode) => ({ type: 'compare', op, left, right })

t.test('comparisons: every operator, either side, path against path', async t => {
  for (const op of ['==', '!=', '>', '<', '>=', '<=']) {
    t.same(parseCondition(`total ${op} 100`), cmp(path('total'), op, lit(100)), op)
  }
  t.same(parseCondition("'paid' == status"), cmp(lit('paid'), '==', path('status')))
  t.same(parseCondition('data.total>=before.total'), cmp(path('data', 'total'), '>=', path('before', 'total')))
  t.same(parseCondition('x == -1.5e2'), cmp(path('x'), '==', lit(-150)))
  t.same(parseCondition('1 < 2'), cmp(lit(1), '<', lit(2)))
})

t.test('literals', async t => {
  t.same(parseCondition('x == true'), cmp(path('x'), '==', lit(true)))
  t.same(parseCondition('x == FALSE'), cmp(path('x'), '==', lit(false)), 'keywords in any case')
  t.same(parseCondition('x != Null'), cmp(path('x'), '!=', lit(null)))
  t.same(parseCondition('x == "a\\"b"'), cmp(path('x'), '==', lit('a"b')))
  t.same(parseCondition('true'), lit(true), 'a literal alone is a condition')
  t.same(parseCondition("'text'"), lit('text'))
})

t.test('bare paths are truth tests; keywords are paths after a dot', async t => {
  t.same(parseCondition('data.active'), path('data', 'active'))
  t.same(parseCondition('active'), path('active'))
  t.same(parseCondition('data.null == data.and'), cmp(path('data', 'null'), '==', path('data', 'and')))
  t.same(parseCondition('has_field'), path('has_field'), 'a function name without parentheses is a path')
})

t.test('logical operators, aliases and precedence', async t => {
  const a = path('a')
  const b = path('b')
  const c = path('c')
  t.same(parseCondition('a && b'), { type: 'and', operands: [a, b] })
  t.same(parseCondition('a || b'), { type: 'or', operands: [a, b] })
  t.same(parseCondition('!a'), { type: 'not', operand: a })
  for (const word of ['AND', 'and', 'And', 'aNd']) t.same(parseCondition(`a ${word} b`), { type: 'and', operands: [a, b] }, word)
  for (const word of ['OR', 'or', 'Or']) t.same(parseCondition(`a ${word} b`), { type: 'or', operands: [a, b] }, word)
  for (const word of ['NOT', 'not', 'Not']) t.same(parseCondition(`${word} a`), { type: 'not', operand: a }, word)
  t.same(parseCondition('not(a)'), { type: 'not', operand: a }, 'NOT before a parenthesis is the operator')
  t.same(parseCondition('a && b && c'), { type: 'and', operands: [a, b, c] }, 'a chain is one node')
  t.same(parseCondition('a || b && c'), { type: 'or', operands: [a, { type: 'and', operands: [b, c] }] }, '&& binds tighter')
  t.same(parseCondition('a && b || c'), { type: 'or', operands: [{ type: 'and', operands: [a, b] }, c] })
  t.same(parseCondition('(a || b) && c'), { type: 'and', operands: [{ type: 'or', operands: [a, b] }, c] })
  t.same(parseCondition('(a && b) && c'), { type: 'and', operands: [{ type: 'and', operands: [a, b] }, c] },
    'parentheses keep a nested chain')
  t.same(parseCondition('!a && b'), { type: 'and', operands: [{ type: 'not', operand: a }, b] }, '! binds tighter than &&')
  t.same(parseCondition('!a == 1'), { type: 'not', operand: cmp(a, '==', lit(1)) }, '! applies to the comparison')
  t.same(parseCondition('!!a'), { type: 'not', operand: { type: 'not', operand: a } })
  t.same(parseCondition('((a))'), a, 'parentheses leave no node')
  t.same(parseCondition('a==1&&b!=2'), { type: 'and', operands: [cmp(a, '==', lit(1)), cmp(b, '!=', lit(2))] })
})

t.test('functions', async t => {
  t.same(parseCondition('has_field(status)'), { type: 'call', name: 'has_field', path: ['status'] })
  t.same(parseCondition("has_field('customer.tier')"), { type: 'call', name: 'has_field', path: ['customer', 'tier'] })
  t.same(parseCondition('has_field("first name")'), { type: 'call', name: 'has_field', path: ['first name'] })
  t.same(parseCondition('field_changed(data.status)'), { type: 'call', name: 'field_changed', path: ['data', 'status'] })
  t.same(parseCondition("field_changed_to(status, 'paid')"),
    { type: 'call', name: 'field_changed_to', path: ['status'], value: 'paid' })
  t.same(parseCondition("field_changed_from('status', null)"),
    { type: 'call', name: 'field_changed_from', path: ['status'], value: null })
  t.same(parseCondition('field_changed_to(total, -5)'), { type: 'call', name: 'field_changed_to', path: ['total'], value: -5 })
  t.same(parseCondition('FIELD_CHANGED_TO(a, TRUE)'), { type: 'call', name: 'field_changed_to', path: ['a'], value: true },
    'function names in any case')
  t.same(parseCondition('has_field(null)'), { type: 'call', name: 'has_field', path: ['null'] }, 'keywords are paths here')
  t.same(parseCondition('has_field( a )&&!field_changed(b)'), {
    type: 'and',
    operands: [
      { type: 'call', name: 'has_field', path: ['a'] },
      { type: 'not', operand: { type: 'call', name: 'field_changed', path: ['b'] } }
    ]
  })
})

t.test('syntax errors name the position', async t => {
  t.same(...parseCase('', 'empty condition at position 0', 0))
  t.same(...parseCase('  ', 'empty condition at position 0', 0))
  t.same(...parseCase('(a == 1) && b)', "unexpected token ')' at position 13", 13))
  t.same(...parseCase('a == ', 'unexpected end of condition at position 5', 5))
  t.same(...parseCase('(a', 'unexpected end of condition at position 2', 2))
  t.same(...parseCase('()', "unexpected token ')' at position 1", 1))
  t.same(...parseCase('a == 1 == 2', "unexpected token '==' at position 7", 7))
  t.same(...parseCase('a b', "unexpected token 'b' at position 2", 2))
  t.same(...parseCase('a && || b', "unexpected token '||' at position 5", 5))
  t.same(...parseCase('a == and', "unexpected token 'and' at position 5", 5))
  t.same(...parseCase('and(x)', "unexpected token 'and' at position 0", 0))
  t.same(...parseCase('a == (b)', "unexpected token '(' at position 5", 5))
  t.same(...parseCase('a ==== b', "unexpected token '==' at position 4", 4))
  t.same(...parseCase("x == 'abc", 'unterminated string at position 5', 5))
  t.same(...parseCase(`x == '${'y'.repeat(40)}' z`, 'unexpected token \'z\' at position 48', 48))
  // Long tokens are shortened in the message.
  t.same(...parseCase(`x == 1 '${'y'.repeat(40)}'`, `unexpected token ''${'y'.repeat(31)}...' at position 7`, 7))
})

t.test('function errors', async t => {
  t.same(...parseCase('foo(a)', "unknown function 'foo' at position 0", 0))
  t.same(...parseCase('a && data.foo(x)', "unknown function 'data.foo' at position 5", 5))
  t.same(...parseCase('has_field(a, b)', "function 'has_field' takes 1 argument at position 11", 11))
  t.same(...parseCase('field_changed(a, 1)', "function 'field_changed' takes 1 argument at position 15", 15))
  t.same(...parseCase('field_changed_to(a)', "function 'field_changed_to' takes 2 arguments at position 18", 18))
  t.same(...parseCase('field_changed_from(a, 1, 2)', "function 'field_changed_from' takes 2 arguments at position 23", 23))
  t.same(...parseCase('has_field()', "unexpected token ')' at position 10", 10))
  t.same(...parseCase('has_field(1)', "unexpected token '1' at position 10", 10))
  t.same(...parseCase('has_field(a', 'unexpected end of condition at position 11', 11))
  // The value must be a literal, not a path.
  t.same(...parseCase('field_changed_to(a, b)', "unexpected token 'b' at position 20", 20))
  t.same(...parseCase("has_field('')", "invalid path '' at position 10", 10))
  t.same(...parseCase("has_field('a..b')", "invalid path 'a..b' at position 10", 10))
  t.same(...parseCase('has_field("a.")', 'invalid path "a." at position 10', 10))
})
