import t from 'tap'
import { createNatsAction } from '../../lib/actions/nats.js'
import type { NatsConfig } from '../../lib/actions/nats-config.js'
import { parseServerSet, subjectToken } from '../../lib/actions/nats-config.js'
import { createActionRegistry } from '../../lib/actions/registry.js'
import { Cancellation } from '../../lib/actions/cancellation.js'
import { REDACTED, type ActionServices } from '../../lib/actions/types.js'
import type { Resolver } from '../../lib/net/address-guard.js'
import { sampleEnvelope, testContext, testServices } from '../helpers/action-context.js'
import { createStream, startNatsServer } from '../helpers/nats-server.js'
import { closedPort } from '../helpers/ports.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

type T = Parameters<typeof startNatsServer>[0]

function nats (t: T, services: ActionServices = testServices(), resolve?: Resolver) {
  const action = createNatsAction(services, { resolve })
  t.teardown(async () => { await action.close?.() })
  return action
}

const event = sampleEnvelope()

t.test('publishes the envelope to JetStream and waits for its ack; a consumer reads it with its headers', async t => {
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['observers.>'])
  const ctx = testContext(testServices(), { trace: { traceId: 'ab'.repeat(16), flags: '01', tracestate: 'vendor=1', context: undefined } })
  const outcome = await nats(t).run(event, { type: 'nats', servers: server.url, headers: { 'X-Source': 'observers' } }, ctx)
  t.same(outcome, { ok: true, response: 'stream ORDERS seq 1' })
  const [message] = await server.messages('ORDERS')
  t.equal(message.subject, 'observers.order.UPDATE', 'the default subject: observers.<entity_type>.<event_type>')
  t.same(message.json(), event, 'the body is the envelope a webhook gets')
  t.equal(message.header.get('Nats-Msg-Id'), ctx.idempotencyKey)
  t.equal(message.header.get('Observers-Event-Id'), event.event_id)
  t.equal(message.header.get('Observers-Event-Type'), 'UPDATE')
  t.equal(message.header.get('Observers-Entity-Type'), 'order')
  t.equal(message.header.get('Observers-Entity-Id'), '42')
  t.equal(message.header.get('Content-Type'), 'application/json')
  t.equal(message.header.get('X-Source'), 'observers', 'configured headers are sent')
  t.match(message.header.get('traceparent'), new RegExp(`^00-${'ab'.repeat(16)}-[0-9a-f]{16}-01$`), 'the attempt\'s trace')
  t.equal(message.header.get('tracestate'), 'vendor=1')
})

t.test('the same idempotency key is stored once: a retry or a replay is a duplicate, acknowledged', async t => {
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['observers.>'])
  const action = nats(t)
  const config: NatsConfig = { type: 'nats', servers: server.url }
  t.match(await action.run(event, config, testContext(testServices())), { ok: true, response: 'stream ORDERS seq 1' })
  t.match(await action.run(event, config, testContext(testServices(), { attempt: 2 })), { ok: true, response: 'stream ORDERS seq 1 duplicate' })
  t.match(await action.run(event, config, testContext(testServices(), { idempotencyKey: 'another-delivery' })), { ok: true, response: 'stream ORDERS seq 2' })
  t.equal((await server.messages('ORDERS')).length, 2, 'one message per delivery')
})

t.test('subject templates: values are made subject-safe and cannot add tokens', async t => {
  const server = await startNatsServer(t)
  await createStream(server, 'ALL', ['shop.>'])
  const action = nats(t)
  const odd = sampleEnvelope({ entity_type: 'line item', data: { status: 'a.b*>c' } })
  t.match(await action.run(odd, { type: 'nats', servers: server.url, subject: 'shop.{{ entity_type }}.{{ data.status }}.{{ data.missing }}' }, testContext(testServices())), { ok: true })
  t.equal((await server.messages('ALL'))[0].subject, 'shop.line_item.a_b__c._')
  t.equal(subjectToken(''), '_')
})

t.test('a subject no stream captures is permanent NATS_NO_STREAM; a stream\'s size limit is NATS_MAX_PAYLOAD', async t => {
  const server = await startNatsServer(t)
  await createStream(server, 'SMALL', ['small.>'], { max_msg_size: 64 })
  const action = nats(t)
  t.match(await action.run(event, { type: 'nats', servers: server.url, subject: 'nowhere.{{ entity_type }}' }, testContext(testServices())), {
    ok: false, kind: 'permanent', code: 'NATS_NO_STREAM', message: 'no JetStream stream captures the subject nowhere.order'
  })
  const tooLarge = await action.run(event, { type: 'nats', servers: server.url, subject: 'small.x' }, testContext(testServices()))
  t.match(tooLarge, { ok: false, kind: 'permanent', code: 'NATS_MAX_PAYLOAD' })
  t.match(tooLarge, { request: { method: 'PUBLISH', url: server.url, subject: 'small.x', body_bytes: Buffer.byteLength(JSON.stringify(event)) } }, 'the failed attempt keeps what it sent')
})

t.test('server limits and permissions: max_payload and a denied subject are permanent, with their codes', async t => {
  const server = await startNatsServer(t, {
    config: [
      'max_payload: 2048',
      'authorization { users = [ { user: limited, password: unused, permissions: { publish: { deny: ["forbidden.>"] } } } ] }',
      'no_auth_user: limited'
    ].join('\n')
  })
  await createStream(server, 'ALL', ['forbidden.>', 'big.>'])
  const action = nats(t)
  t.match(await action.run(event, { type: 'nats', servers: server.url, subject: 'forbidden.x' }, testContext(testServices())), {
    ok: false, kind: 'permanent', code: 'NATS_PERMISSION'
  })
  const big = sampleEnvelope({ data: { text: 'x'.repeat(3000) } })
  t.match(await action.run(big, { type: 'nats', servers: server.url, subject: 'big.x' }, testContext(testServices())), {
    ok: false, kind: 'permanent', code: 'NATS_MAX_PAYLOAD'
  })
})

t.test('a token from the environment authenticates; a wrong one is refused for good', async t => {
  const server = await startNatsServer(t, { config: 'authorization { token: "s3cr3t-token" }' })
  const jsm = await import('@nats-io/jetstream')
  const { connect } = await import('@nats-io/transport-node')
  const admin = await connect({ servers: server.url, token: 's3cr3t-token' })
  t.teardown(async () => { await admin.close() })
  await (await jsm.jetstreamManager(admin)).streams.add({ name: 'ORDERS', subjects: ['observers.>'] })
  const ok = await nats(t, testServices({ env: { NATS_TOKEN: 's3cr3t-token' } })).run(event, { type: 'nats', servers: server.url, token_env: 'NATS_TOKEN' }, testContext(testServices()))
  t.match(ok, { ok: true })
  const refused = await nats(t, testServices({ env: { NATS_TOKEN: 'wrong' } })).run(event, { type: 'nats', servers: server.url, token_env: 'NATS_TOKEN' }, testContext(testServices()))
  t.match(refused, { ok: false, kind: 'permanent', code: 'NATS_AUTH' })
  t.notMatch(JSON.stringify(refused), /wrong|s3cr3t/, 'the token is in no outcome')
  const unset = await nats(t).run(event, { type: 'nats', servers: server.url, token_env: 'NATS_TOKEN' }, testContext(testServices()))
  t.match(unset, { ok: false, kind: 'permanent', code: 'CONFIG', message: 'environment variable NATS_TOKEN (token_env) is not set' })
  const noFile = await nats(t, testServices({ env: { NATS_CREDS: '/nonexistent/user.creds' } })).run(event, { type: 'nats', servers: server.url, credentials_env: 'NATS_CREDS' }, testContext(testServices()))
  t.match(noFile, { ok: false, kind: 'permanent', code: 'CONFIG', message: 'credentials file from NATS_CREDS cannot be read: ENOENT' })
})

t.test('no server is transient; so is a timeout, and a cancelled attempt ends at once', async t => {
  const port = await closedPort()
  const down = await nats(t).run(event, { type: 'nats', servers: `nats://127.0.0.1:${port}` }, testContext(testServices()))
  t.match(down, { ok: false, kind: 'transient', code: 'NATS_DISCONNECTED' })
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['observers.>'])
  const cancellation = new Cancellation()
  cancellation.cancel(new Error('shutting down'))
  t.match(await nats(t).run(event, { type: 'nats', servers: server.url }, testContext(testServices(), { cancellation })), { ok: false, kind: 'transient', code: 'CANCELLED' })
  const aborted = new AbortController()
  aborted.abort(new DOMException('late', 'TimeoutError'))
  t.match(await nats(t).run(event, { type: 'nats', servers: server.url }, testContext(testServices(), { signal: aborted.signal })), { ok: false, kind: 'transient', code: 'TIMEOUT', timedOut: true })
})

t.test('one connection per server set, however it is spelled; close drains it', async t => {
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['observers.>'])
  const proxy = await startTcpProxy(t, server.port)
  const action = createNatsAction(testServices())
  const url = `nats://127.0.0.1:${proxy.port}`
  const spellings = [url, `127.0.0.1:${proxy.port}, ${url}`, [url]]
  const outcomes = await Promise.all(spellings.map(async (servers) => await action.run(event, { type: 'nats', servers }, testContext(testServices()))))
  t.same(outcomes.map((o) => o.ok), [true, true, true])
  t.equal(proxy.connections(), 1, 'every action naming the set shares one connection')
  await action.close?.()
  t.match(await action.run(event, { type: 'nats', servers: url }, testContext(testServices())), { ok: false, kind: 'transient' }, 'nothing is opened after close')
  t.equal(proxy.connections(), 1)
  t.equal((await server.messages('ORDERS')).length, 1, 'the three publishes of one delivery are stored once')
})

t.test('without allowPrivate, a server on a private address is refused and never contacted', async t => {
  const services = testServices({ allowPrivate: false, env: { NATS: 'nats://10.1.2.3:4222' } })
  const fromEnv = await nats(t, services).run(event, { type: 'nats', servers_env: 'NATS' }, testContext(services))
  t.match(fromEnv, { ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message: 'refused: address 10.1.2.3 is private (10.0.0.0/8)' })
  const resolvesPrivate = nats(t, services, async () => [{ address: '127.0.0.1', family: 4 }])
  t.match(await resolvesPrivate.run(event, { type: 'nats', servers: 'nats://bus.example.com:4222' }, testContext(services)), {
    ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message: 'refused: bus.example.com resolves to 127.0.0.1, which is loopback (127.0.0.0/8)'
  })
})

t.test('render shows the message without publishing it; redact hides header values', async t => {
  const action = nats(t)
  const config: NatsConfig = { type: 'nats', servers: 'nats://b.example.com, nats://A.example.com:4223', subject: 'shop.{{ event_type }}', headers: { Authorization: 'Bearer abc' } }
  const rendered = await action.render(event, config, testContext(testServices()))
  t.same(rendered, {
    method: 'PUBLISH',
    url: 'nats://a.example.com:4223,nats://b.example.com:4222',
    subject: 'shop.UPDATE',
    headers: {
      Authorization: REDACTED,
      'Content-Type': 'application/json',
      'Nats-Msg-Id': 'evt-7d4c6f3e.obs-2f1e0c4b.0',
      'Observers-Event-Id': event.event_id,
      'Observers-Event-Type': 'UPDATE',
      'Observers-Entity-Type': 'order',
      'Observers-Entity-Id': '42'
    },
    body: event
  })
  t.equal((await action.render(event, { type: 'nats', servers_env: 'UNSET' }, testContext(testServices()))).url, null, 'an unset variable shows no servers')
  t.same(action.redact(config), { ...config, headers: { Authorization: REDACTED } })
  t.same(action.redact({ type: 'nats', servers_env: 'NATS', token_env: 'TOKEN' }), { type: 'nats', servers_env: 'NATS', token_env: 'TOKEN' }, 'variable names are not secrets')
  t.equal(action.endpoint?.(config, testServices()), 'nats://a.example.com:4223,nats://b.example.com:4222', 'the endpoint is the normalised server set')
  t.equal(action.endpoint?.({ type: 'nats', servers_env: 'UNSET' }, testServices()), null)
})

t.test('save-time validation names the field', async t => {
  const registry = createActionRegistry(testServices({ allowPrivate: false }), {})
  t.teardown(() => registry.close())
  const problems: Array<[Record<string, unknown>, string]> = [
    [{}, 'actions/0/servers: one of servers or servers_env is required'],
    [{ servers: 'nats://a.example.com', servers_env: 'X' }, 'actions/0/servers: set only one of servers or servers_env'],
    [{ servers: 'http://a.example.com' }, 'actions/0/servers: must use nats:// or tls://, not http'],
    [{ servers: 'nats://user:pw@a.example.com' }, 'actions/0/servers: must not contain credentials; use credentials_env or token_env'],
    [{ servers: 'nats://a.example.com/x' }, 'actions/0/servers: must be scheme://host:port, with no path or query'],
    [{ servers: 'nats://a.example.com,' }, 'actions/0/servers: must not be empty'],
    [{ servers: 'nats://127.0.0.1:4222' }, 'actions/0/servers: refused: address 127.0.0.1 is loopback (127.0.0.0/8)'],
    [{ servers: ['nats://a.example.com', 'nats://localhost'] }, 'actions/0/servers: refused: host \'localhost\' is loopback (localhost)'],
    [{ servers: 'nats://a.example.com', subject: 'a..b' }, 'actions/0/subject: must be dot-separated tokens without spaces or wildcards (* >), e.g. orders.{{ event_type }}'],
    [{ servers: 'nats://a.example.com', subject: 'orders.>' }, 'actions/0/subject: must be dot-separated tokens without spaces or wildcards (* >), e.g. orders.{{ event_type }}'],
    [{ servers: 'nats://a.example.com', subject: '$JS.API.STREAM.DELETE.X' }, 'actions/0/subject: must not be a $JS. or $SYS. subject (the server\'s own API)'],
    [{ servers: 'nats://a.example.com', subject: 'x.{{ nope }}' }, 'actions/0/subject: unknown placeholder'],
    [{ servers: 'nats://a.example.com', headers: { 'Nats-Msg-Id': 'x' } }, 'actions/0/headers/Nats-Msg-Id: set by the action itself'],
    [{ servers: 'nats://a.example.com', headers: { traceparent: 'x' } }, 'actions/0/headers/traceparent: set by the action itself'],
    [{ servers: 'nats://a.example.com', headers: { 'bad name': 'x' } }, 'actions/0: headers/bad name: not a valid header name'],
    [{ servers: 'nats://a.example.com', headers: { X: 'a\r\nb' } }, 'actions/0/headers/X: must not contain line breaks'],
    [{ servers: 'nats://a.example.com', token_env: 'A', credentials_env: 'B' }, 'actions/0/credentials_env: set only one of credentials_env or token_env'],
    [{ servers: 'nats://a.example.com', token: 'inline' }, 'actions/0 must not have additional properties']
  ]
  for (const [config, message] of problems) {
    const problem = registry.validate({ type: 'nats', ...config }, 0)
    t.ok(problem?.startsWith(message.replace(/ must not have additional properties$/, '')), `${JSON.stringify(config)}: ${problem}`)
  }
  t.equal(registry.validate({ type: 'nats', servers: 'nats://bus.example.com, tls://bus2.example.com:4443', subject: 'orders.{{ data.status }}', timeout_ms: 500, rate_limit: { per_second: 10 } }, 0), null)
  t.same(parseServerSet('nats://[::1]'), { servers: ['nats://[::1]:4222'], hosts: [{ host: '::1', port: 4222, tls: false }], endpoint: 'nats://[::1]:4222' })
})
