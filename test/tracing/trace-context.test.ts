import t from 'tap'
import { isTraceId, newTraceparent, parseTraceparent, randomSpanId, sendableTracestate } from '../../lib/tracing/trace-context.js'
import { redactUrl, redactUrlText } from '../../lib/net/redact-url.js'

const TRACE = '0af7651916cd43dd8448eb211c80319c'
const SPAN = 'b7ad6b7169203331'

t.test('a traceparent is continued only when W3C would accept it', async t => {
  t.same(parseTraceparent(`00-${TRACE}-${SPAN}-01`), { traceId: TRACE, spanId: SPAN, flags: '01' })
  t.same(parseTraceparent(`00-${TRACE}-${SPAN}-00`), { traceId: TRACE, spanId: SPAN, flags: '00' }, 'not sampled')
  t.same(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-the-future-holds`), { traceId: TRACE, spanId: SPAN, flags: '01' }, 'a later version: its first four fields')
  for (const bad of [
    `00-${TRACE}-${SPAN}-01-extra`, // version 00 has four fields
    `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
    `00-${'0'.repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`,
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}-1`,
    `00-${TRACE}x-${SPAN}-01`,
    `00-${TRACE}-${SPAN}-01\r\nx-injected: 1`,
    'garbage', '', null, undefined,
    `cc-${TRACE}-${SPAN}-01-${'x'.repeat(600)}`
  ]) t.equal(parseTraceparent(bad), undefined, String(bad).slice(0, 60))
})

t.test('a plain trace id setting counts as a trace only in W3C form; tracestate is sent only when sendable', async t => {
  t.ok(isTraceId(TRACE))
  t.notOk(isTraceId('trace-1'))
  t.notOk(isTraceId('0'.repeat(32)))
  t.notOk(isTraceId(null))
  t.equal(sendableTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'), 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')
  t.equal(sendableTracestate('a=b\r\nx-injected: 1'), undefined, 'a line break would split the header')
  t.equal(sendableTracestate('x'.repeat(513)), undefined)
  t.equal(sendableTracestate(''), undefined)
})

t.test('fresh ids are valid and distinct', async (t) => {
  const ids = new Set(Array.from({ length: 1000 }, () => randomSpanId()))
  t.equal(ids.size, 1000)
  t.ok([...ids].every((id) => /^[0-9a-f]{16}$/.test(id) && id !== '0'.repeat(16)), 'sixteen hex digits, never all zero')
  const continued = newTraceparent(TRACE, '00')
  t.match(continued, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`), 'a new span in a given trace')
  t.ok(parseTraceparent(continued), 'which W3C accepts')
  const fresh = Array.from({ length: 1000 }, () => newTraceparent(null, '01'))
  t.ok(fresh.every((h) => parseTraceparent(h) !== undefined && h.endsWith('-01')), 'fresh traces W3C accepts')
  t.equal(new Set(fresh.map((h) => h.slice(3, 35))).size, 1000, 'each its own trace')
})

t.test('URLs lose their credentials and query values; a secret path is hidden whole', async t => {
  t.equal(redactUrl(new URL('https://user:pw@hooks.example.com:8443/in/x?token=abc&team=7#frag')), 'https://REDACTED:REDACTED@hooks.example.com:8443/in/x?token=REDACTED&team=REDACTED')
  t.equal(redactUrl(new URL('http://example.com/plain')), 'http://example.com/plain')
  t.equal(redactUrl(new URL('https://hooks.slack.com/services/T0/B0/secret'), true), 'https://hooks.slack.com/REDACTED')
  t.equal(redactUrlText('not a url with a secret'), 'REDACTED')
})
