import t from 'tap'
import { tokenize } from '../../lib/condition/lexer.js'
import { conditionErrorOf } from '../helpers/condition.js'

const kinds = (source: string) => tokenize(source).map(token => [token.kind, token.text, token.pos])

/** Arguments for t.same: what tokenising `source` threw, and the ConditionError expected. */
function lexCase (source: string, message: string, position: number): [unknown, unknown, string] {
  return [conditionErrorOf(() => tokenize(source)), { message, position }, source]
}

t.test('punctuation and operators', async t => {
  t.same(kinds('( ) , ! && || == != > < >= <='), [
    ['punct', '(', 0], ['punct', ')', 2], ['punct', ',', 4], ['punct', '!', 6], ['punct', '&&', 8],
    ['punct', '||', 11], ['punct', '==', 14], ['punct', '!=', 17], ['punct', '>', 20], ['punct', '<', 22],
    ['punct', '>=', 24], ['punct', '<=', 27], ['eof', '', 29]
  ])
  t.same(kinds('a>=1'), [['ident', 'a', 0], ['punct', '>=', 1], ['number', '1', 3], ['eof', '', 4]])
  t.same(kinds('!a'), [['punct', '!', 0], ['ident', 'a', 1], ['eof', '', 2]])
  t.same(kinds(' \t\r\n'), [['eof', '', 4]], 'whitespace only')
})

t.test('identifiers and dotted paths', async t => {
  const [token] = tokenize('customer.tier_2.0.x')
  t.equal(token.kind, 'ident')
  t.same(token.kind === 'ident' && token.path, ['customer', 'tier_2', '0', 'x'])
  const [unicode] = tokenize('données.état')
  t.same(unicode.kind === 'ident' && unicode.path, ['données', 'état'])
  const [under] = tokenize('_a1')
  t.same(under.kind === 'ident' && under.path, ['_a1'])
  t.same(...lexCase('a.', "invalid path 'a.' at position 0", 0))
  t.same(...lexCase('x == a..b', "invalid path 'a.' at position 5", 5))
  t.same(...lexCase('a.-b', "invalid path 'a.' at position 0", 0))
})

t.test('numbers', async t => {
  const values = (source: string) => tokenize(source).flatMap(tok => tok.kind === 'number' ? [tok.value] : [])
  t.same(values('0 42 -7 3.25 -0.5 .5 1. 1e3 2E-2 -1.5e+2'), [0, 42, -7, 3.25, -0.5, 0.5, 1, 1000, 0.02, -150])
  t.ok(Object.is(values('-0')[0], 0), '-0 becomes 0')
  t.same(...lexCase('1abc', "invalid number '1abc' at position 0", 0))
  t.same(...lexCase('x == 1.2.3', "invalid number '1.2.3' at position 5", 5))
  t.same(...lexCase('1e', "invalid number '1e' at position 0", 0))
  t.same(...lexCase('1e999', "number out of range '1e999' at position 0", 0))
  t.same(...lexCase('- 1', "unexpected character '-' at position 0", 0))
})

t.test('strings and escapes', async t => {
  const value = (source: string) => {
    const [tok] = tokenize(source)
    return tok.kind === 'string' ? tok.value : undefined
  }
  t.equal(value("'abc'"), 'abc')
  t.equal(value('"abc"'), 'abc')
  t.equal(value("''"), '')
  t.equal(value(String.raw`'a\\b'`), 'a\\b')
  t.equal(value(String.raw`'it\'s'`), "it's")
  t.equal(value(String.raw`"say \"hi\""`), 'say "hi"')
  t.equal(value(String.raw`'\"'`), '"', 'either quote may be escaped in either string')
  t.equal(value('"it\'s"'), "it's", 'the other quote needs no escape')
  t.equal(value(String.raw`'a\nb\tc\rd'`), 'a\nb\tc\rd')
  t.equal(value(String.raw`'\u0041\u00e9\u20AC'`), 'Aé€')
  t.equal(value(String.raw`'\ud83d\ude00'`), '😀', 'surrogate pair from two escapes')
  t.equal(value("'line\nbreak'"), 'line\nbreak', 'raw newline kept')
  t.equal(tokenize(String.raw`'a\'b' == x`)[0].text, String.raw`'a\'b'`, 'token text is the raw source')
  t.equal(tokenize(String.raw`'a\'b' == x`)[1].pos, 7, 'positions continue after escapes')
})

t.test('string errors carry the position of the fault', async t => {
  t.same(...lexCase("x == 'abc", 'unterminated string at position 5', 5))
  t.same(...lexCase('x == "abc\'', 'unterminated string at position 5', 5))
  t.same(...lexCase("'abc\\", 'unterminated string at position 0', 0))
  t.same(...lexCase("'abc\\'", 'unterminated string at position 0', 0))
  t.same(...lexCase("'a\\qb'", "invalid escape '\\q' at position 2", 2))
  t.same(...lexCase("'a\\u12g4'", "invalid escape '\\u12g4' at position 2", 2))
  t.same(...lexCase("'\\u12'", "invalid escape '\\u12'' at position 1", 1))
})

t.test('unexpected characters', async t => {
  t.same(...lexCase('a # b', "unexpected character '#' at position 2", 2))
  t.same(...lexCase('a = 1', "unexpected character '=' (use '==') at position 2", 2))
  t.same(...lexCase('a & b', "unexpected character '&' at position 2", 2))
  t.same(...lexCase('a | b', "unexpected character '|' at position 2", 2))
  t.same(...lexCase('a\u0001', "unexpected character '\\u0001' at position 1", 1))
  t.same(...lexCase('😀', "unexpected character '😀' at position 0", 0))
})
