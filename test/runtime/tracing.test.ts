// With an OpenTelemetry SDK registered (the in-memory exporter): a change written in a traced
// transaction is followed to the webhook it causes, attempt by attempt.
import t from 'tap'
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, createTraceState, trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { setTraceContext } from '../../index.js'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { call, createObserver } from '../helpers/routes.js'
import { insertChanges } from '../helpers/rows.js'

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
trace.setGlobalTracerProvider(provider)
t.teardown(async () => {
  trace.disable()
  await provider.shutdown()
})

const RETRY_AT_ONCE = { max_attempts: 3, backoff_strategy: 'fixed', initial_delay_ms: 10, max_delay_ms: 10, jitter: false }
const kind = (k: SpanKind) => (s: ReadableSpan) => s.kind === k

t.test('a change in a traced transaction: one trace from the writer\'s span to both webhook attempts', async (t) => {
  exporter.reset()
  const target = await startHttpTarget(t)
  target.respond = (_req, res) => { res.writeHead(target.received.length === 1 ? 500 : 200).end() }
  const { app, pool, schema } = await build(t)
  await pool.query(`create table "${schema}".orders (id bigint generated always as identity primary key, status text)`)
  await app.observers.captures.attach({ schema, table: 'orders', entity_type: 'order' })
  const observer = await createObserver(app, { name: 'ship', entity_type: 'order', actions: [{ type: 'webhook', url: `${target.url}/hook?token=s3cret` }], retry_config: RETRY_AT_ONCE })

  // the application's request: a SERVER span, and the write in its transaction
  const request = provider.getTracer('app').startSpan('POST /orders', { kind: SpanKind.SERVER }, ROOT_CONTEXT)
  const writer = request.spanContext()
  const client = await pool.connect()
  try {
    await client.query('begin')
    t.equal(await setTraceContext(client, trace.setSpan(ROOT_CONTEXT, request)), `00-${writer.traceId}-${writer.spanId}-01`)
    await client.query(`insert into "${schema}".orders (status) values ('new')`)
    await client.query('commit')
  } finally {
    client.release()
  }
  request.end()

  const received = await target.waitFor(2)
  const spans = await eventually(() => {
    const all = exporter.getFinishedSpans()
    return all.filter(kind(SpanKind.CONSUMER)).length === 2 ? all : undefined
  }, 10_000, 'both attempts to end')
  const consumers = spans.filter(kind(SpanKind.CONSUMER))
  const status = (s: ReadableSpan) => Number(s.attributes['http.response.status_code'])
  const clients = spans.filter(kind(SpanKind.CLIENT)).sort((a, b) => status(b) - status(a))
  t.equal(clients.length, 2, 'one CLIENT span per HTTP attempt')

  for (const consumer of consumers) {
    t.equal(consumer.spanContext().traceId, writer.traceId, 'the delivery is in the writer\'s trace')
    t.equal(consumer.parentSpanContext?.spanId, writer.spanId, 'a child of the writer\'s span')
    t.same(consumer.links.map((l) => l.context.spanId), [writer.spanId], 'and linked to it')
    t.match(consumer.attributes, { 'observers.observer.id': observer.id, 'observers.entity.type': 'order', 'observers.action.type': 'webhook', 'messaging.operation.type': 'process' })
  }
  const [failed, succeeded] = clients
  const port = target.port
  t.match(failed.attributes, { 'http.request.method': 'POST', 'url.full': `http://127.0.0.1:${port}/hook?token=REDACTED`, 'server.address': '127.0.0.1', 'server.port': port, 'http.response.status_code': 500, 'error.type': '500' })
  t.notOk('http.request.resend_count' in failed.attributes, 'the first attempt is no resend')
  t.equal(failed.status.code, SpanStatusCode.ERROR)
  t.match(succeeded.attributes, { 'http.response.status_code': 200, 'http.request.resend_count': 1, 'url.full': `http://127.0.0.1:${port}/hook?token=REDACTED` })
  t.notOk('error.type' in succeeded.attributes)
  const secrets = JSON.stringify(spans.map((s) => s.attributes))
  t.notOk(secrets.includes('s3cret'), 'no secret in any attribute')

  const consumerOf = (span: ReadableSpan) => consumers.find((c) => c.spanContext().spanId === span.parentSpanContext?.spanId)
  t.ok(consumerOf(failed) !== undefined && consumerOf(succeeded) !== undefined && consumerOf(failed) !== consumerOf(succeeded), 'each CLIENT span is a child of its attempt\'s CONSUMER span')
  t.match(consumerOf(failed)?.attributes, { 'observers.attempt': 1, 'error.type': 'HTTP_500' })
  t.match(consumerOf(succeeded)?.attributes, { 'observers.attempt': 2 })

  // the receiver can continue the trace: each request names the CLIENT span that sent it
  t.same(received.map((r) => r.headers.traceparent), clients.map((c) => `00-${writer.traceId}-${c.spanContext().spanId}-01`))

  const logs = await eventually(async () => {
    const page = (await call(app, 'GET', `/logs?trace_id=${writer.traceId}`)).json()
    return page.data.length === 2 ? page.data : undefined
  }, 10_000, 'both attempts in the log, found by their trace id')
  t.same(logs.map((l: { status: string }) => l.status), ['success', 'failed'])
})

t.test('a change without a trace: the first attempt starts one, and its retry stays in it', async (t) => {
  exporter.reset()
  const target = await startHttpTarget(t)
  target.respond = (_req, res) => { res.writeHead(target.received.length === 1 ? 503 : 200).end() }
  const { app, pool, schema } = await build(t)
  await createObserver(app, { actions: [{ type: 'webhook', url: target.url }], retry_config: RETRY_AT_ONCE })
  await insertChanges(pool, schema, 1)
  const received = await target.waitFor(2)
  const consumers = await eventually(() => {
    const found = exporter.getFinishedSpans().filter(kind(SpanKind.CONSUMER))
    return found.length === 2 ? found.sort((a, b) => Number(a.attributes['observers.attempt']) - Number(b.attributes['observers.attempt'])) : undefined
  }, 10_000, 'both attempts to end')
  const [first, retry] = consumers
  t.equal(first.parentSpanContext, undefined, 'the first attempt is the root of a new trace')
  t.same(first.links, [], 'with nothing to link to')
  t.equal(retry.spanContext().traceId, first.spanContext().traceId, 'the retry is in the same trace')
  t.equal(retry.parentSpanContext?.spanId, first.spanContext().spanId, 'under the attempt that started it')
  const traceId = first.spanContext().traceId
  t.ok(received.every((r) => String(r.headers.traceparent).startsWith(`00-${traceId}-`)), 'the receiver sees that trace on both requests')
  const { rows } = await eventually(async () => {
    const result = await pool.query(`select trace_id from "${schema}".tb_observer_log`)
    return result.rows.length === 2 ? result : undefined
  })
  t.same(rows.map((r) => r.trace_id), [null, null], 'the log rows carry only a trace the change came with')
})

t.test('a custom action runs with its attempt\'s CONSUMER span in its context', async (t) => {
  exporter.reset()
  const seen: Array<string | undefined> = []
  const { app, pool, schema } = await build(t, {
    actions: { audit: (_event, _config, ctx) => { seen.push(trace.getSpan(ctx.trace?.context ?? ROOT_CONTEXT)?.spanContext().spanId) } }
  })
  await createObserver(app, { actions: [{ type: 'audit' }] })
  await insertChanges(pool, schema, 1)
  const consumer = await eventually(() => exporter.getFinishedSpans().find(kind(SpanKind.CONSUMER)), 10_000, 'the attempt')
  t.same(seen, [consumer.spanContext().spanId])
  t.match(consumer.attributes, { 'observers.action.type': 'audit' })
  t.equal(consumer.status.code, SpanStatusCode.UNSET, 'a success')
})

t.test('a Slack attempt\'s CLIENT span hides the webhook URL\'s path, which is its token', async (t) => {
  exporter.reset()
  const target = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await createObserver(app, { actions: [{ type: 'slack', webhook_url: `${target.url}/services/T0/B0/token` }] })
  await insertChanges(pool, schema, 1)
  const client = await eventually(() => exporter.getFinishedSpans().find(kind(SpanKind.CLIENT)), 10_000, 'the request')
  t.match(client.attributes, { 'url.full': `http://127.0.0.1:${target.port}/REDACTED`, 'http.response.status_code': 200 })
})

t.test('an attempt that gets no answer: its CLIENT span says why, and the writer\'s tracestate still travels', async (t) => {
  exporter.reset()
  const target = await startHttpTarget(t)
  const { app } = await build(t)
  // port 1: nothing listens there, the connection is refused
  await createObserver(app, { actions: [{ type: 'webhook', url: 'http://127.0.0.1:1/refused' }, { type: 'webhook', url: target.url }], retry_config: { max_attempts: 1 } })
  const writer = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true, traceState: createTraceState('vendor=opaque') }
  await app.observers.db.transaction().execute(async (trx) => {
    await setTraceContext(trx, trace.setSpanContext(ROOT_CONTEXT, writer))
    await trx.insertInto('tb_entity_change_log').values({ object_type: 'order', object_id: '1', modification_type: 'INSERT' }).execute()
  })
  const [received] = await target.waitFor(1)
  t.equal(received.headers.tracestate, 'vendor=opaque')
  const clients = await eventually(() => {
    const found = exporter.getFinishedSpans().filter(kind(SpanKind.CLIENT))
    return found.length === 2 ? found : undefined
  }, 10_000, 'both requests')
  const refused = clients.find((c) => c.attributes['server.port'] === 1)
  t.match(refused?.attributes, { 'error.type': 'NETWORK', 'url.full': 'http://127.0.0.1:1/refused' })
  t.notOk(refused !== undefined && 'http.response.status_code' in refused.attributes, 'no answer, no status code')
  t.ok(clients.every((c) => c.spanContext().traceId === writer.traceId && c.spanContext().traceState?.get('vendor') === 'opaque'), 'the tracestate is in the spans\' context too')
})
