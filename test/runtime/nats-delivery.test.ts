// The `nats` action through the whole runtime, against a real `nats-server -js`: what the stream
// holds after retries, replays, a lost ack, a server restart and per-key ordering.
import t from 'tap'
import type pg from 'pg'
import { AUTH, build, eventually } from '../helper.js'
import { counterValue } from '../helpers/metrics.js'
import { createStream, startNatsServer } from '../helpers/nats-server.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

const RETRY_FAST = { max_attempts: 50, backoff_strategy: 'fixed', initial_delay_ms: 100, max_delay_ms: 100, jitter: false }

async function logRows (pool: pg.Pool, schema: string, where = 'true'): Promise<Array<{ status: string, error_code: string | null, entity_id: string }>> {
  const { rows } = await pool.query(`select status, error_code, entity_id from "${schema}".tb_observer_log where ${where} order by pk_observer_log`)
  return rows
}

t.test('changes reach the stream with their acks; a replay of the log stores nothing twice', async (t) => {
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['observers.>'])
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await insertObserver(pool, schema, { name: 'to-nats', entity_type: 'order', actions: [{ type: 'nats', servers: server.url }] })
  await app.observers.start()
  await insertChanges(pool, schema, 3)
  await eventually(async () => (await logRows(pool, schema)).length === 3, 10_000, 'three attempts logged')
  const messages = await server.messages('ORDERS')
  t.same(messages.map((m) => m.subject), ['observers.order.INSERT', 'observers.order.INSERT', 'observers.order.INSERT'])
  t.same(messages.map((m) => (m.json() as { entity_id: string }).entity_id).sort(), ['0', '1', '2'])
  t.same((await logRows(pool, schema)).map((r) => r.status), ['success', 'success', 'success'])
  t.equal(await counterValue(app.observers.metrics, 'observers_actions_total', { action_type: 'nats', outcome: 'success' }), 3, 'observers_actions_total{action_type="nats"}')
  const scrape = await app.inject({ url: '/observers/metrics', headers: AUTH })
  t.match(scrape.body, /observers_actions_total\{action_type="nats",outcome="success"\} 3/)
  const endpoints = (await app.inject({ url: '/observers/endpoints', headers: AUTH })).json()
  t.match(endpoints.data, [{ endpoint: server.url, state: 'closed' }], 'the endpoint guard knows the server set')

  // replay: the checkpoint moved back, the same deliveries run again with the same keys
  await app.observers.stop()
  t.equal((await app.inject({ method: 'PUT', url: '/observers/checkpoint/default', headers: AUTH, payload: { after_cursor: '0' } })).statusCode, 200)
  await app.observers.start()
  await eventually(async () => (await logRows(pool, schema)).length === 6, 10_000, 'the replay logged')
  t.same((await logRows(pool, schema)).map((r) => r.status), Array(6).fill('success'), 'the replayed deliveries are acknowledged (as duplicates)')
  t.equal((await server.messages('ORDERS')).length, 3, 'the stream holds one message per delivery')
})

t.test('an ack lost after the publish: the retry is the same message, stored once', async (t) => {
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['observers.>'])
  const proxy = await startTcpProxy(t, server.port)
  const { pool, schema } = await build(t)
  await insertObserver(pool, schema, { actions: [{ type: 'nats', servers: `nats://127.0.0.1:${proxy.port}`, timeout_ms: 300 }], retry_config: RETRY_FAST })
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'warm-up' }))
  await eventually(async () => (await logRows(pool, schema, "status = 'success'")).length === 1, 10_000, 'the connection is up')
  proxy.hold()
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'lost-ack' }))
  await eventually(async () => (await server.messages('ORDERS')).length === 2, 10_000, 'the publish reached the stream')
  await eventually(async () => (await logRows(pool, schema, "entity_id = 'lost-ack' and status = 'timeout'")).length >= 1, 10_000, 'the attempt timed out')
  proxy.release()
  await eventually(async () => (await logRows(pool, schema, "entity_id = 'lost-ack' and status = 'success'")).length === 1, 10_000, 'the retry succeeded')
  t.match(await logRows(pool, schema, "entity_id = 'lost-ack'"), [{ status: 'timeout', error_code: 'TIMEOUT' }], 'the first attempt timed out waiting for its ack')
  const messages = await server.messages('ORDERS')
  t.equal(messages.length, 2, 'one message for the delivery, not one per attempt')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
})

t.test('a subject no stream captures ends as a dead letter with NATS_NO_STREAM, at once', async (t) => {
  const server = await startNatsServer(t)
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { name: 'nowhere', actions: [{ type: 'nats', servers: server.url, subject: 'unbound.{{ entity_type }}' }], retry_config: RETRY_FAST })
  await insertChanges(pool, schema, 1)
  const dlq = await eventually(async () => {
    const body = (await app.inject({ url: '/observers/dlq', headers: AUTH })).json()
    return body.data.length === 1 ? body.data[0] : undefined
  })
  t.match(dlq, { observer_name: 'nowhere', action_type: 'nats', attempts: 1, error_code: 'NATS_NO_STREAM', error_message: 'no JetStream stream captures the subject unbound.order' })
  t.match(await logRows(pool, schema), [{ status: 'failed', error_code: 'NATS_NO_STREAM' }], 'one attempt: a permanent failure is not retried')
  t.equal((await logRows(pool, schema)).length, 1)
})

t.test('the server stopped, then started again: every delivery arrives, once, nothing dead-lettered', async (t) => {
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['observers.>'], { storage: 'file' })
  const { app, pool, schema } = await build(t, { runtime: { circuitBreaker: { coolDownMs: 300, maxCoolDownMs: 300 } } })
  // orders only: the circuit's own state changes (observers.endpoint events) would match too
  await insertObserver(pool, schema, { entity_type: 'order', actions: [{ type: 'nats', servers: server.url, timeout_ms: 500 }], retry_config: RETRY_FAST })
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'first' }))
  await eventually(async () => (await logRows(pool, schema, "status = 'success'")).length === 1, 10_000, 'the first delivery')
  await server.stop()
  await insertChanges(pool, schema, 10, 'order', (i) => ({ n: `while-down-${i}` }))
  await eventually(async () => (await logRows(pool, schema, "status <> 'success'")).length >= 1, 10_000, 'attempts failing while the server is down')
  await server.start()
  await eventually(async () => (await server.messages('ORDERS').catch(() => [])).length === 11, 20_000, 'all eleven in the stream')
  await eventually(async () => (await app.observers.health()).retries_pending === 0, 20_000, 'no retry left')
  const ids = (await server.messages('ORDERS')).map((m) => m.header.get('Nats-Msg-Id'))
  t.equal(new Set(ids).size, 11, 'eleven deliveries, eleven messages')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0, 'nothing dead-lettered')
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'success'"), 11)
})

t.test('ordering: entity publishes one key\'s events in commit order, so the stream holds them in order', async (t) => {
  const server = await startNatsServer(t)
  await createStream(server, 'ORDERS', ['orders.>'])
  const { pool, schema } = await build(t, { runtime: { start: true, concurrency: 16 } })
  await insertObserver(pool, schema, { ordering: 'entity', actions: [{ type: 'nats', servers: server.url, subject: 'orders.{{ entity_id }}' }] })
  const keys = ['a', 'b', 'c']
  const updates = 8
  for (let i = 0; i < updates; i++) {
    await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
      select 'order', k, 'UPDATE', jsonb_build_object('key', k, 'version', $1::int) from unnest($2::text[]) as k`, [i, keys])
  }
  await eventually(async () => (await server.messages('ORDERS')).length === keys.length * updates, 20_000, 'every update in the stream')
  const messages = await server.messages('ORDERS')
  for (const key of keys) {
    const versions = messages.filter((m) => m.subject === `orders.${key}`).map((m) => (m.json() as { data: { version: number } }).data.version)
    t.same(versions, [...Array(updates).keys()], `key ${key}: stream order is commit order`)
  }
})
