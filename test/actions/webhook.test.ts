import t from 'tap'
import { createHmac } from 'node:crypto'
import { createHttpClient } from '../../lib/actions/http-client.js'
import type { HttpClientOptions } from '../../lib/actions/http-client.js'
import { createWebhookAction } from '../../lib/actions/webhook.js'
import type { WebhookConfig } from '../../lib/actions/webhook.js'
import { REDACTED } from '../../lib/actions/types.js'
import type { ActionServices } from '../../lib/actions/types.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { sampleEnvelope, testContext, testServices } from '../helpers/action-context.js'

type T = Parameters<typeof startHttpTarget>[0]

function webhook (t: T, options: HttpClientOptions = { allowPrivate: true }) {
  const http = createHttpClient(options)
  t.teardown(() => http.close())
  return createWebhookAction(http)
}

const event = sampleEnvelope()

// The receiver's side of Standard Webhooks, written from the spec rather than from the action.
function expectedSignature (secret: string, id: string, timestamp: string, body: string): string {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret)
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
}

t.test('posts the event envelope with the idempotency key', async t => {
  const target = await startHttpTarget(t)
  const services = testServices()
  const ctx = testContext(services)
  const outcome = await webhook(t).run(event, { type: 'webhook', url: `${target.url}/in` }, ctx)
  t.same(outcome, { ok: true, statusCode: 200, response: 'ok' })
  const [request] = target.received
  t.equal(request.method, 'POST')
  t.same(JSON.parse(request.body), event)
  t.equal(request.headers['content-type'], 'application/json')
  t.equal(request.headers['webhook-id'], ctx.idempotencyKey)
  t.equal(request.headers['idempotency-key'], ctx.idempotencyKey)
  t.notOk(request.headers['webhook-signature'], 'unsigned without a secret')
})

t.test('method and configured headers are sent', async t => {
  const target = await startHttpTarget(t)
  const config: WebhookConfig = { type: 'webhook', url: target.url, method: 'PUT', headers: { Authorization: 'Bearer abc', 'X-Source': 'observers' } }
  await webhook(t).run(event, config, testContext(testServices()))
  t.equal(target.received[0].method, 'PUT')
  t.equal(target.received[0].headers.authorization, 'Bearer abc')
  t.equal(target.received[0].headers['x-source'], 'observers')
})

t.test('Standard Webhooks signature verifies with whsec_ and plain secrets', async t => {
  const target = await startHttpTarget(t)
  const action = webhook(t)
  const whsec = 'whsec_' + Buffer.from('a 24-byte signing key!!!').toString('base64')
  for (const secret of [whsec, 'plain text secret']) {
    const ctx = testContext(testServices())
    const before = Math.floor(Date.now() / 1000)
    await action.run(event, { type: 'webhook', url: target.url, signing_secret: secret }, ctx)
    const request = target.received.at(-1)!
    const timestamp = request.headers['webhook-timestamp'] as string
    t.ok(Number(timestamp) >= before && Number(timestamp) <= Math.floor(Date.now() / 1000), 'unix seconds, now')
    t.equal(request.headers['webhook-signature'], expectedSignature(secret, ctx.idempotencyKey, timestamp, request.body), secret.slice(0, 6))
  }
})

t.test('url, headers and signing secret can come from the environment', async t => {
  const target = await startHttpTarget(t)
  const services = testServices({ env: { HOOK_URL: `${target.url}/from-env`, HOOK_TOKEN: 'tok-123', HOOK_SECRET: 'env secret' } })
  const ctx = testContext(services)
  const config: WebhookConfig = { type: 'webhook', url_env: 'HOOK_URL', headers_env: { 'X-Token': 'HOOK_TOKEN' }, signing_secret_env: 'HOOK_SECRET' }
  t.match(await webhook(t).run(event, config, ctx), { ok: true })
  const [request] = target.received
  t.equal(request.url, '/from-env')
  t.equal(request.headers['x-token'], 'tok-123')
  t.equal(request.headers['webhook-signature'],
    expectedSignature('env secret', ctx.idempotencyKey, request.headers['webhook-timestamp'] as string, request.body))
})

t.test('a missing environment variable is a permanent CONFIG failure naming it', async t => {
  const target = await startHttpTarget(t)
  const action = webhook(t)
  const ctx = testContext(testServices({ env: { HOOK_URL: target.url } }))
  t.same(await action.run(event, { type: 'webhook', url_env: 'MISSING_URL' }, ctx),
    { ok: false, kind: 'permanent', code: 'CONFIG', message: 'environment variable MISSING_URL (url_env) is not set' })
  t.same(await action.run(event, { type: 'webhook', url_env: 'HOOK_URL', headers_env: { 'X-Key': 'API_KEY' } }, ctx),
    { ok: false, kind: 'permanent', code: 'CONFIG', message: 'environment variable API_KEY (headers_env/X-Key) is not set' })
  t.same(await action.run(event, { type: 'webhook', url: target.url, signing_secret_env: 'NO_SECRET' }, ctx),
    { ok: false, kind: 'permanent', code: 'CONFIG', message: 'environment variable NO_SECRET (signing_secret_env) is not set' })
  const badUrl = testContext(testServices({ env: { HOOK_URL: 'ftp://files.example.com/' } }))
  t.same(await action.run(event, { type: 'webhook', url_env: 'HOOK_URL' }, badUrl),
    { ok: false, kind: 'permanent', code: 'CONFIG', message: 'url from HOOK_URL: must use http or https, not ftp' })
  t.equal(target.received.length, 0, 'nothing was sent')
})

t.test('body_template renders JSON and event data cannot inject keys', async t => {
  const target = await startHttpTarget(t)
  const attack = sampleEnvelope({ data: { name: 'x", "admin": true, "y": "', total: 12 } })
  const config: WebhookConfig = { type: 'webhook', url: target.url, body_template: '{"text": "Order for {{ data.name }}", "total": {{ data.total }}, "id": "{{ entity_id }}"}' }
  await webhook(t).run(attack, config, testContext(testServices()))
  const body = JSON.parse(target.received[0].body)
  t.same(Object.keys(body), ['text', 'total', 'id'])
  t.same(body, { text: 'Order for x", "admin": true, "y": "', total: 12, id: '42' })
})

t.test('failures are classified like any HTTP answer', async t => {
  const target = await startHttpTarget(t, (req, res) => { res.writeHead(req.url === '/gone' ? 410 : 502).end() })
  const action = webhook(t)
  const ctx = testContext(testServices())
  t.match(await action.run(event, { type: 'webhook', url: `${target.url}/gone` }, ctx), { ok: false, kind: 'permanent', code: 'HTTP_410' })
  t.match(await action.run(event, { type: 'webhook', url: `${target.url}/x` }, ctx), { ok: false, kind: 'transient', code: 'HTTP_502' })
})

t.test('timeout_ms of the action bounds the attempt', async t => {
  const target = await startHttpTarget(t, () => { /* never answers */ })
  const outcome = await webhook(t).run(event, { type: 'webhook', url: target.url, timeout_ms: 100 }, testContext(testServices(), { timeoutMs: 30_000 }))
  t.match(outcome, { ok: false, kind: 'transient', code: 'TIMEOUT', message: 'request timed out after 100 ms', timedOut: true })
})

t.test('a failed attempt keeps what it sent: secrets redacted, the body cut to 4 KiB', async t => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(500).end() })
  const services = testServices({ env: { HOOK_TOKEN: 'tok-from-env' } })
  const url = `http://hook-user:hook-pass@127.0.0.1:${target.port}/in?token=query-secret&team=7`
  const config: WebhookConfig = { type: 'webhook', url, headers: { Authorization: 'Bearer header-secret', 'X-Source': 'observers' }, headers_env: { 'X-Token': 'HOOK_TOKEN' }, signing_secret: 'signing-secret' }
  const big = sampleEnvelope({ data: { note: 'é'.repeat(6000) } })
  const outcome = await webhook(t).run(big, config, testContext(services))
  t.match(outcome, { ok: false, code: 'HTTP_500' })
  if (outcome.ok) return
  const sent = target.received[0]
  const request = outcome.request!
  t.equal(request.method, 'POST')
  t.equal(request.url, `http://REDACTED:REDACTED@127.0.0.1:${target.port}/in?token=REDACTED&team=REDACTED`)
  t.same(request.headers, {
    'content-type': 'application/json',
    authorization: REDACTED,
    'x-source': REDACTED,
    'x-token': REDACTED,
    'webhook-id': sent.headers['webhook-id'],
    'idempotency-key': sent.headers['idempotency-key'],
    'webhook-timestamp': sent.headers['webhook-timestamp'],
    'webhook-signature': REDACTED
  })
  t.equal(request.body_bytes, Buffer.byteLength(sent.body), 'the size of the whole body')
  t.ok(Buffer.byteLength(request.body) <= 4096 && Buffer.byteLength(request.body) > 4000, 'the body is cut to 4 KiB')
  t.ok(sent.body.startsWith(request.body), 'the start of what was sent, cut on a character boundary')
  for (const secret of ['header-secret', 'tok-from-env', 'signing-secret', 'query-secret', 'hook-pass', sent.headers['webhook-signature'] as string]) {
    t.notOk(JSON.stringify(request).includes(secret), `no ${secret.slice(0, 12)}`)
  }
  const ok = await startHttpTarget(t)
  t.same(await webhook(t).run(event, { type: 'webhook', url: ok.url }, testContext(services)), { ok: true, statusCode: 200, response: 'ok' }, 'a success keeps nothing')
})

t.test('every request carries traceparent: the attempt\'s trace, a new span id each time, and the tracestate', async t => {
  const target = await startHttpTarget(t)
  const action = webhook(t)
  const trace = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', flags: '01', tracestate: 'vendor=abc', context: undefined }
  await action.run(event, { type: 'webhook', url: target.url }, testContext(testServices(), { trace }))
  await action.run(event, { type: 'webhook', url: target.url }, testContext(testServices(), { trace, attempt: 2 }))
  const [first, second] = target.received.map((r) => r.headers)
  t.match(first.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
  t.match(second.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
  t.not(first.traceparent, second.traceparent, 'each attempt is a span of its own')
  t.equal(first.tracestate, 'vendor=abc')
  await action.run(event, { type: 'webhook', url: target.url }, testContext(testServices(), { trace: { ...trace, tracestate: undefined } }))
  t.notOk('tracestate' in target.received[2].headers, 'no tracestate when the writer had none')
})

t.test('without allowPrivate, private targets are refused and never contacted', async t => {
  const target = await startHttpTarget(t)
  const action = webhook(t, { allowPrivate: false, resolve: async () => [{ address: '10.0.0.5', family: 4 }] })
  const ctx = testContext(testServices({ allowPrivate: false }))
  t.match(await action.run(event, { type: 'webhook', url: target.url }, ctx),
    { ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message: 'refused: address 127.0.0.1 is loopback (127.0.0.0/8)' })
  t.match(await action.run(event, { type: 'webhook', url: 'https://internal.example.test/hook' }, ctx),
    { ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message: 'refused: internal.example.test resolves to 10.0.0.5, which is private (10.0.0.0/8)' })
  t.equal(target.connections(), 0)
})

t.test('render shows the request without sending it, secrets redacted', async t => {
  const target = await startHttpTarget(t)
  const services = testServices({ env: { HOOK_URL: `${target.url}/x`, HOOK_TOKEN: 'tok-123' } })
  const ctx = testContext(services)
  const config: WebhookConfig = {
    type: 'webhook',
    url_env: 'HOOK_URL',
    headers: { Authorization: 'Bearer abc' },
    headers_env: { 'X-Token': 'HOOK_TOKEN' },
    signing_secret: 'shh',
    body_template: '{"status": "{{ data.status }}"}'
  }
  const rendered = await webhook(t).render(event, config, ctx)
  t.same(rendered, {
    method: 'POST',
    url: `${target.url}/x`,
    headers: {
      'content-type': 'application/json',
      authorization: REDACTED,
      'x-token': REDACTED,
      'webhook-id': ctx.idempotencyKey,
      'idempotency-key': ctx.idempotencyKey,
      'webhook-timestamp': rendered.headers['webhook-timestamp'],
      'webhook-signature': REDACTED
    },
    body: { status: 'shipped' }
  })
  const unset = await webhook(t).render(event, { type: 'webhook', url_env: 'NOT_SET' }, testContext(testServices()))
  t.equal(unset.url, null, 'an unset URL variable renders as null')
  t.same(unset.body, event, 'default body is the envelope')
  t.equal(target.received.length, 0)
})

t.test('redact hides header values and the signing secret, not env variable names', async t => {
  const config: WebhookConfig = {
    type: 'webhook',
    url: 'https://example.com/hook',
    headers: { Authorization: 'Bearer abc' },
    headers_env: { 'X-Token': 'HOOK_TOKEN' },
    signing_secret: 'whsec_c2VjcmV0',
    signing_secret_env: 'ALSO_SET'
  }
  const redacted = webhook(t).redact(config)
  t.same(redacted, { ...config, headers: { Authorization: REDACTED }, signing_secret: REDACTED })
  t.equal(config.signing_secret, 'whsec_c2VjcmV0', 'the stored config is untouched')
})

t.test('check: what a saved webhook must satisfy', async t => {
  const action = webhook(t)
  const strict: ActionServices = testServices({ allowPrivate: false })
  const open = testServices()
  const check = (config: Omit<WebhookConfig, 'type'>, services = strict) => action.check?.({ type: 'webhook', ...config }, services) ?? null
  t.equal(check({ url: 'https://hooks.example.com/x', body_template: '{"a": {{ data.a }}}' }), null)
  t.equal(check({ url: 'http://127.0.0.1:9/x' }), 'url: refused: address 127.0.0.1 is loopback (127.0.0.0/8)')
  t.equal(check({ url: 'http://127.0.0.1:9/x' }, open), null, 'allowPrivate lifts the address check')
  t.equal(check({ url: 'ftp://example.com/' }, open), 'url: must use http or https, not ftp')
  t.equal(check({}), 'url: one of url or url_env is required')
  t.equal(check({ url: 'https://example.com', url_env: 'X' }), 'url: set only one of url or url_env')
  t.equal(check({ url_env: 'X', signing_secret: 's', signing_secret_env: 'S' }), 'signing_secret: set only one of signing_secret or signing_secret_env')
  t.equal(check({ url_env: 'X', signing_secret: 'whsec_not base64!' }), 'signing_secret: a whsec_ secret must be base64 after the prefix')
  t.equal(check({ url_env: 'X', headers: { 'Bad Name': 'v' } }), 'headers/Bad Name: not a valid header name')
  t.equal(check({ url_env: 'X', headers: { 'Webhook-Signature': 'forged' } }), 'headers/Webhook-Signature: set by the action itself')
  t.equal(check({ url_env: 'X', headers_env: { Host: 'H' } }), 'headers_env/Host: set by the action itself')
  t.equal(check({ url_env: 'X', headers: { 'X-A': 'a\r\nX-B: b' } }), 'headers/X-A: must not contain line breaks')
  t.equal(check({ url_env: 'X', headers: { 'X-A': 'a' }, headers_env: { 'x-a': 'A' } }), 'headers_env/x-a: also set in headers')
  t.match(check({ url_env: 'X', body_template: '{"a": {{ data.a }}' }), /^body_template: does not render to valid JSON: /)
})
