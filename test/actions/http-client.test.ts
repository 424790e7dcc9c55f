import t from 'tap'
import type { ServerResponse } from 'node:http'
import { createHttpClient } from '../../lib/actions/http-client.js'
import type { HttpClient, HttpClientOptions, SendOptions } from '../../lib/actions/http-client.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { Cancellation } from '../../lib/actions/cancellation.js'
import { closedPort } from '../helpers/ports.js'

function client (t: Parameters<typeof startHttpTarget>[0], options: HttpClientOptions = { allowPrivate: true }): HttpClient {
  const http = createHttpClient(options)
  t.teardown(() => http.close())
  return http
}

const post = (overrides: Partial<SendOptions> = {}): SendOptions =>
  ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}', timeoutMs: 5000, ...overrides })

t.test('2xx is a success carrying the status and the body', async t => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(201).end('created') })
  const result = await client(t).send(`${target.url}/hooks/in?x=1`, post())
  t.same(result.outcome, { ok: true, statusCode: 201, response: 'created' })
  t.equal(target.received[0].method, 'POST')
  t.equal(target.received[0].url, '/hooks/in?x=1')
  t.equal(target.received[0].body, '{"a":1}')
})

t.test('a large response is stored cut short and the connection is still reused', async t => {
  const target = await startHttpTarget(t, (_req, res) => { res.end('x'.repeat(200_000)) })
  const http = client(t)
  const first = await http.send(target.url, post())
  t.equal(first.body.length, 4096)
  t.equal(first.outcome.ok && first.outcome.response?.length, 4096)
  for (let i = 0; i < 5; i++) await http.send(target.url, post())
  // undici's pool may alternate between two sockets; an undrained body would pin one per request.
  t.ok(target.connections() <= 2, `6 requests over ${target.connections()} connections`)
})

t.test('a body too large to drain still gives the answer, and its socket is not reused', async t => {
  const target = await startHttpTarget(t, (_req, res) => { res.end('y'.repeat(3 * 1024 * 1024)) })
  const http = client(t)
  const first = await http.send(target.url, post())
  t.same(first.outcome, { ok: true, statusCode: 200, response: 'y'.repeat(4096) })
  for (let i = 0; i < 2; i++) t.equal((await http.send(target.url, post())).statusCode, 200)
  // drained sockets would be reused (see above): each of these was closed instead
  t.ok(target.connections() >= 3, `3 requests over ${target.connections()} connections`)
})

t.test('5xx, 408 and 429 are transient; Retry-After is honoured', async t => {
  const answers = [
    (res: ServerResponse) => res.writeHead(500).end('boom'),
    (res: ServerResponse) => res.writeHead(429, { 'retry-after': '7' }).end(),
    (res: ServerResponse) => res.writeHead(503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }).end(),
    (res: ServerResponse) => res.writeHead(408).end()
  ]
  const target = await startHttpTarget(t, (_req, res) => answers.shift()?.(res))
  const http = client(t)
  t.same((await http.send(target.url, post())).outcome,
    { ok: false, kind: 'transient', code: 'HTTP_500', message: 'endpoint answered 500', statusCode: 500, response: 'boom' })
  const limited = (await http.send(target.url, post())).outcome
  t.match(limited, { ok: false, kind: 'transient', code: 'HTTP_429', statusCode: 429, retryAfterMs: 7000 })
  const dated = (await http.send(target.url, post())).outcome
  t.match(dated, { ok: false, kind: 'transient', code: 'HTTP_503' })
  t.ok(!dated.ok && dated.retryAfterMs !== undefined && dated.retryAfterMs > 55_000 && dated.retryAfterMs <= 60_000, 'HTTP-date Retry-After')
  t.match((await http.send(target.url, post())).outcome, { ok: false, kind: 'transient', code: 'HTTP_408' })
})

t.test('other 4xx are permanent', async t => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(400).end('bad field') })
  t.same((await client(t).send(target.url, post())).outcome,
    { ok: false, kind: 'permanent', code: 'HTTP_400', message: 'endpoint answered 400', statusCode: 400, response: 'bad field' })
})

t.test('a redirect is a permanent failure naming Location, and it is not followed', async t => {
  const elsewhere = await startHttpTarget(t)
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(302, { location: `${elsewhere.url}/stolen` }).end() })
  const { outcome } = await client(t).send(target.url, post())
  t.match(outcome, { ok: false, kind: 'permanent', code: 'REDIRECT', statusCode: 302 })
  t.equal(!outcome.ok && outcome.message, `redirect (302) to ${elsewhere.url}/stolen not followed`)
  t.equal(elsewhere.received.length, 0)
  t.equal(elsewhere.connections(), 0)
})

t.test('no answer within timeoutMs is a transient TIMEOUT', async t => {
  const target = await startHttpTarget(t, () => { /* never answers */ })
  const started = Date.now()
  const { outcome } = await client(t).send(target.url, post({ timeoutMs: 150 }))
  t.same(outcome, { ok: false, kind: 'transient', code: 'TIMEOUT', message: 'request timed out after 150 ms', timedOut: true })
  t.ok(Date.now() - started < 2000, 'ends near the deadline')
})

t.test('the caller\'s signal ends the request: timeout reason = TIMEOUT, other = CANCELLED', async t => {
  const target = await startHttpTarget(t, () => { /* never answers */ })
  const http = client(t)
  const timedOut = await http.send(target.url, post({ signal: AbortSignal.timeout(50) }))
  t.match(timedOut.outcome, { ok: false, kind: 'transient', code: 'TIMEOUT', timedOut: true })
  const controller = new AbortController()
  const pending = http.send(target.url, post({ signal: controller.signal }))
  controller.abort(new Error('shutting down'))
  t.match((await pending).outcome, { ok: false, kind: 'transient', code: 'CANCELLED' })
})

t.test('the runtime\'s cancellation ends the request, even one still waiting for a socket', async t => {
  const target = await startHttpTarget(t, () => { /* never answers */ })
  const http = createHttpClient({ allowPrivate: true, connections: 1 })
  t.teardown(() => http.close())
  const first = new Cancellation()
  const queued = new Cancellation()
  const pending = [http.send(target.url, post({ cancellation: first })), http.send(target.url, post({ cancellation: queued }))]
  await t.resolveMatch(new Promise((resolve) => { const wait = (): void => { if (target.received.length === 1) resolve(1); else setImmediate(wait) }; wait() }), 1)
  queued.cancel(new Error('shutting down'))
  first.cancel(new DOMException('no answer within 5000 ms', 'TimeoutError'))
  const [timedOut, cancelled] = await Promise.all(pending)
  t.same(timedOut.outcome, { ok: false, kind: 'transient', code: 'TIMEOUT', message: 'no answer within 5000 ms', timedOut: true })
  t.same(cancelled.outcome, { ok: false, kind: 'transient', code: 'CANCELLED', message: 'request cancelled' })
  t.equal(target.received.length, 1, 'the queued request was never sent')
  const untouched = await startHttpTarget(t)
  const before = new Cancellation()
  before.cancel(new Error('shutting down'))
  t.match((await http.send(untouched.url, post({ cancellation: before }))).outcome, { code: 'CANCELLED' }, 'already cancelled: not sent at all')
  t.equal(untouched.connections(), 0, 'not even a connection was opened for it')
})

t.test('a refused connection is a transient NETWORK failure', async t => {
  const port = await closedPort()
  const { outcome } = await client(t).send(`http://127.0.0.1:${port}/`, post())
  t.match(outcome, { ok: false, kind: 'transient', code: 'NETWORK', message: /ECONNREFUSED/ })
})

t.test('what cannot be sent at all is a permanent CONFIG failure', async t => {
  const target = await startHttpTarget(t)
  const http = client(t)
  t.match((await http.send(target.url, post({ headers: { 'x-bad': 'a\r\nx-injected: 1' } }))).outcome,
    { ok: false, kind: 'permanent', code: 'CONFIG' })
  t.match((await http.send('ftp://127.0.0.1/', post())).outcome, { ok: false, kind: 'permanent', code: 'CONFIG', message: 'URL must use http or https: ftp://127.0.0.1/' })
  t.match((await http.send('nope', post())).outcome, { ok: false, kind: 'permanent', code: 'CONFIG' })
  t.equal(target.received.length, 0)
})

t.test('without allowPrivate, literal private addresses are refused before any connection', async t => {
  const target = await startHttpTarget(t)
  const http = client(t, { allowPrivate: false })
  const cases: Array<[string, string]> = [
    [`http://127.0.0.1:${target.port}/`, 'refused: address 127.0.0.1 is loopback (127.0.0.0/8)'],
    [`http://[::ffff:127.0.0.1]:${target.port}/`, 'refused: address ::ffff:7f00:1 is IPv4-mapped loopback (127.0.0.0/8)'],
    [`http://localhost:${target.port}/`, "refused: host 'localhost' is loopback (localhost)"],
    ['http://169.254.169.254/latest/meta-data/', 'refused: address 169.254.169.254 is cloud metadata'],
    [`http://2130706433:${target.port}/`, 'refused: address 127.0.0.1 is loopback (127.0.0.0/8)']
  ]
  for (const [url, message] of cases) {
    t.same((await http.send(url, post())).outcome, { ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message }, url)
  }
  t.equal(target.connections(), 0)
})

t.test('without allowPrivate, a name resolving to a private address is refused at connect', async t => {
  const target = await startHttpTarget(t)
  const resolved: string[] = []
  const http = client(t, {
    allowPrivate: false,
    resolve: async (host) => {
      resolved.push(host)
      return host === 'internal.example.test' ? [{ address: '10.0.0.5', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]
    }
  })
  t.same((await http.send('http://internal.example.test/hook', post())).outcome, {
    ok: false,
    kind: 'permanent',
    code: 'SSRF_BLOCKED',
    message: 'refused: internal.example.test resolves to 10.0.0.5, which is private (10.0.0.0/8)'
  })
  // The name points at the running target's address and port: still no connection is made.
  const { outcome } = await http.send(`http://sink.example.test:${target.port}/hook`, post())
  t.match(outcome, { code: 'SSRF_BLOCKED', message: 'refused: sink.example.test resolves to 127.0.0.1, which is loopback (127.0.0.0/8)' })
  t.same(resolved, ['internal.example.test', 'sink.example.test'])
  t.equal(target.connections(), 0)
  t.equal(target.received.length, 0)
})
