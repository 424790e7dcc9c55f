// Without an OpenTelemetry SDK (the API is a no-op): the writer's W3C trace context still travels
// from its transaction to every webhook the change causes, retries and dead-letter retries included.
import t from 'tap'
import { ROOT_CONTEXT, TraceFlags, createTraceState, trace } from '@opentelemetry/api'
import { setTraceContext } from '../../index.js'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { call, createObserver } from '../helpers/routes.js'
import { insertChanges } from '../helpers/rows.js'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const SPAN = '00f067aa0ba902b7'
const RETRY_AT_ONCE = { max_attempts: 2, backoff_strategy: 'fixed', initial_delay_ms: 10, max_delay_ms: 10, jitter: false }

// the context a traced request of the host would have
const writerContext = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED, isRemote: false, traceState: createTraceState('vendor=opaque')
})

const logTraceIds = async (pool: { query: (q: string) => Promise<{ rows: Array<{ trace_id: string | null }> }> }, schema: string, n: number): Promise<Array<string | null>> =>
  await eventually(async () => {
    const { rows } = await pool.query(`select trace_id from "${schema}".tb_observer_log order by pk_observer_log`)
    return rows.length === n ? rows.map((r) => r.trace_id) : undefined
  }, 10_000, `${n} log rows`)

t.test('the writer\'s traceparent and tracestate reach the webhook, its retry and an operator\'s retry of its dead letter', async (t) => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(target.received.length <= 2 ? 503 : 200).end() })
  const { app, pool, schema } = await build(t)
  await createObserver(app, { actions: [{ type: 'webhook', url: target.url }], retry_config: RETRY_AT_ONCE })
  // a Kysely transaction this time (the helper takes a pg client too)
  await app.observers.db.transaction().execute(async (trx) => {
    t.equal(await setTraceContext(trx, writerContext), `00-${TRACE}-${SPAN}-01`)
    await trx.insertInto('tb_entity_change_log').values({ object_type: 'order', object_id: '1', modification_type: 'INSERT' }).execute()
  })
  await eventually(async () => (await app.observers.deadLetters.list({}, 10)).data[0], 10_000, 'the dead letter')
  const [letter] = (await app.observers.deadLetters.list({}, 10)).data
  t.match((await call(app, 'POST', `/dlq/${letter.id}/retry`)).json(), { status: 'delivered' })

  const headers = target.received.map((r) => r.headers)
  t.equal(headers.length, 3, 'first attempt, retry, dead-letter retry')
  for (const h of headers) {
    t.match(h.traceparent, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`), 'the writer\'s trace, sampled as the writer decided')
    t.equal(h.tracestate, 'vendor=opaque')
  }
  const spanIds = new Set(headers.map((h) => String(h.traceparent).slice(36, 52)))
  t.equal(spanIds.size, 3, 'a new span id per attempt')
  t.notOk(spanIds.has(SPAN), 'never the writer\'s own span id')
  t.same(await logTraceIds(pool, schema, 3), [TRACE, TRACE, TRACE], 'every log row carries the trace id')
  t.equal((await call(app, 'GET', `/logs?trace_id=${TRACE}`)).json().data.length, 3, 'and the logs filter finds them by it')
})

t.test('a change without a trace gets a fresh one, which its retry keeps', async (t) => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(target.received.length === 1 ? 503 : 200).end() })
  const { app, pool, schema } = await build(t)
  await createObserver(app, { actions: [{ type: 'webhook', url: target.url }], retry_config: RETRY_AT_ONCE })
  await insertChanges(pool, schema, 1)
  const [first, retry] = (await target.waitFor(2)).map((r) => String(r.headers.traceparent))
  t.match(first, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  const traceId = first.slice(3, 35)
  t.equal(retry.slice(3, 35), traceId, 'the retry continues the same trace')
  t.not(retry, first, 'as another span')
  t.notOk(target.received[0].headers.tracestate, 'no tracestate of its own')
  t.same(await logTraceIds(pool, schema, 2), [null, null], 'the log rows carry only a trace the change came with')
})

t.test('a malformed traceparent never breaks the write; a plain trace_id setting still works', async (t) => {
  const target = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await createObserver(app, { actions: [{ type: 'webhook', url: target.url }] })
  const client = await pool.connect()
  try {
    for (const [id, traceparent, traceId] of [['1', '00-not-a-trace', 'legacy-trace'], ['2', `00-${TRACE}-${SPAN}-01\r\nx-injected: yes`, null]]) {
      await client.query('begin')
      await client.query("select set_config('observers.traceparent', $1, true), set_config('observers.tracestate', 'a=b', true), set_config('observers.trace_id', coalesce($2, ''), true)", [traceparent, traceId])
      await client.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type) values ('order', $1, 'INSERT')`, [id])
      await client.query('commit')
    }
  } finally {
    client.release()
  }
  const { rows } = await pool.query(`select traceparent, tracestate, trace_id from "${schema}".tb_entity_change_log order by pk_entity_change_log`)
  t.same(rows, [
    { traceparent: null, tracestate: null, trace_id: 'legacy-trace' },
    { traceparent: null, tracestate: null, trace_id: null }
  ], 'the malformed headers are not kept; the plain setting is')
  const received = await target.waitFor(2)
  t.ok(received.every((r) => /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(String(r.headers.traceparent)) && r.headers['x-injected'] === undefined), 'a fresh, well-formed trace instead')
  await logTraceIds(pool, schema, 2)
  const logged = async (entityId: string): Promise<string> =>
    (await pool.query(`select trace_id from "${schema}".tb_observer_log where entity_id = $1`, [entityId])).rows[0].trace_id
  const sentTo = (entityId: string): string => String(received.find((r) => r.json.entity_id === entityId)?.headers.traceparent).slice(3, 35)
  t.equal(await logged('1'), 'legacy-trace', 'the plain trace id stays what the log rows carry')
  t.equal(await logged('2'), null)
  t.not(sentTo('1'), sentTo('2'), 'each change its own fresh trace')
})

t.test('a plain trace_id setting in W3C form is continued like a traceparent', async (t) => {
  const target = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await createObserver(app, { actions: [{ type: 'webhook', url: target.url }] })
  const client = await pool.connect()
  try {
    await client.query('begin')
    await client.query("select set_config('observers.trace_id', $1, true)", [TRACE])
    await client.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type) values ('order', '1', 'INSERT')`)
    await client.query('commit')
  } finally {
    client.release()
  }
  const [request] = await target.waitFor(1)
  t.match(request.headers.traceparent, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`))
  t.same(await logTraceIds(pool, schema, 1), [TRACE])
})

t.test('without an active span the helper sets nothing', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  await app.observers.db.transaction().execute(async (trx) => {
    t.equal(await setTraceContext(trx), null)
  })
})
