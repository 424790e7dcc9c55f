// With an OpenTelemetry SDK registered (the in-memory exporter): a `nats` delivery's attempt is a
// CONSUMER span with a PRODUCER span under it, and the message carries the PRODUCER's traceparent.
import t from 'tap'
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { build, eventually } from '../helper.js'
import { createObserver } from '../helpers/routes.js'
import { insertChanges } from '../helpers/rows.js'
import { createStream, startNatsServer } from '../helpers/nats-server.js'

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
trace.setGlobalTracerProvider(provider)
t.teardown(async () => {
  trace.disable()
  await provider.shutdown()
})

const kind = (k: SpanKind) => (s: ReadableSpan) => s.kind === k

t.test('a publish is a PRODUCER span with the messaging attributes; a failed one names its code', async (t) => {
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['observers.>'])
  const { app, pool, schema } = await build(t)
  await createObserver(app, { name: 'stream', entity_type: 'order', actions: [{ type: 'nats', servers: server.url }] })
  await createObserver(app, { name: 'nowhere', entity_type: 'order', actions: [{ type: 'nats', servers: server.url, subject: 'unbound.x' }] })
  await insertChanges(pool, schema, 1)
  const producers = await eventually(() => {
    const found = exporter.getFinishedSpans().filter(kind(SpanKind.PRODUCER))
    return found.length === 2 ? found : undefined
  }, 10_000, 'both publishes to end')
  const ok = producers.find((s) => s.attributes['messaging.destination.name'] === 'observers.order.INSERT') as ReadableSpan
  const failed = producers.find((s) => s.attributes['messaging.destination.name'] === 'unbound.x') as ReadableSpan
  const [message] = await server.messages('ORDERS')
  t.match(ok.attributes, {
    'messaging.system': 'nats',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'publish',
    'messaging.message.id': message.header.get('Nats-Msg-Id'),
    'server.address': '127.0.0.1',
    'server.port': server.port
  })
  t.equal(ok.name, 'publish observers.order.INSERT')
  t.notOk('error.type' in ok.attributes)
  const own = ok.spanContext()
  t.equal(message.header.get('traceparent'), `00-${own.traceId}-${own.spanId}-01`, 'a consumer continues the trace from the PRODUCER span')
  const consumer = exporter.getFinishedSpans().filter(kind(SpanKind.CONSUMER)).find((c) => c.spanContext().spanId === ok.parentSpanContext?.spanId)
  t.match(consumer?.attributes, { 'observers.action.type': 'nats' }, 'a child of its attempt\'s CONSUMER span')
  t.match(failed.attributes, { 'error.type': 'NATS_NO_STREAM' })
  t.equal(failed.status.code, SpanStatusCode.ERROR)
})
