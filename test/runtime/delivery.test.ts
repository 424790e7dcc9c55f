import t from 'tap'
import { createHmac } from 'node:crypto'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'

t.test('a change reaches the webhook as the event envelope, and the attempt is logged', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const observerId = await insertObserver(pool, schema, { name: 'orders', entity_type: 'order', event_type: 'INSERT', actions: [{ type: 'webhook', url: sink.url + '/hook' }] })
  await app.observers.start()
  const [changeId] = await insertChanges(pool, schema, 1, 'order', () => ({ n: 7, status: 'new' }))
  const [req] = await sink.waitFor(1)
  t.equal(req.method, 'POST')
  t.equal(req.url, '/hook')
  t.match(req.json, {
    event_type: 'INSERT',
    entity_type: 'order',
    entity_id: '7',
    data: { n: 7, status: 'new' },
    before: null,
    changes: null,
    observer: { id: observerId, name: 'orders' }
  })
  t.match(req.headers['webhook-id'], /^msg_/)
  t.equal(req.headers['idempotency-key'], req.headers['webhook-id'])
  const log = await eventually(async () => (await pool.query(`select * from "${schema}".tb_observer_log`)).rows[0])
  t.match(log, { observer_id: observerId, change_log_id: changeId, status: 'success', attempt_number: 1, max_attempts: 3, response_status_code: 200, action_type: 'webhook', entity_id: '7' })
  t.ok(log.duration_ms >= 0, 'duration recorded')
  const health = await eventually(async () => { const h = await app.observers.health(); return h.checkpoint === changeId ? h : undefined })
  t.match(health, { running: true, reading: true, events_processed: 1, lag_events: 0, observer_count: 1 })
})

t.test('fail twice then succeed: one delivery, three log rows, same idempotency key', async (t) => {
  const sink = await startHttpTarget(t)
  let calls = 0
  sink.respond = (_req, res) => { calls++; res.writeHead(calls <= 2 ? 503 : 200).end() }
  const { pool, schema } = await build(t)
  await insertObserver(pool, schema, {
    actions: [{ type: 'webhook', url: sink.url, signing_secret: 'whsec_' + Buffer.from('secret-key-bytes').toString('base64') }],
    retry_config: { max_attempts: 3, backoff_strategy: 'fixed', initial_delay_ms: 10, max_delay_ms: 10, jitter: false }
  })
  await insertChanges(pool, schema, 1)
  const received = await sink.waitFor(3)
  const ids = new Set(received.map((r) => r.headers['webhook-id']))
  t.equal(ids.size, 1, 'the idempotency key is the same on every retry')
  for (const r of received) {
    const signed = `${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`
    const expected = 'v1,' + createHmac('sha256', Buffer.from('secret-key-bytes')).update(signed).digest('base64')
    t.equal(r.headers['webhook-signature'], expected, 'signature verifies with an independent HMAC')
  }
  const logs = await eventually(async () => {
    const { rows } = await pool.query(`select status, attempt_number, response_status_code from "${schema}".tb_observer_log order by pk_observer_log`)
    return rows.length === 3 ? rows : undefined
  })
  t.same(logs, [
    { status: 'failed', attempt_number: 1, response_status_code: 503 },
    { status: 'failed', attempt_number: 2, response_status_code: 503 },
    { status: 'success', attempt_number: 3, response_status_code: 200 }
  ])
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0, 'nothing left scheduled')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
  t.equal(sink.received.length, 3)
  // the times: each attempt started when the sink saw it, ended duration_ms later, and a failed one
  // names when the next attempt was due (10 ms later, no jitter)
  const { rows: times } = await pool.query(`select started_at, completed_at, duration_ms, next_retry_at from "${schema}".tb_observer_log order by pk_observer_log`)
  times.forEach((row, i) => {
    t.equal(row.completed_at.getTime() - row.started_at.getTime(), row.duration_ms, `attempt ${i + 1}: completed_at = started_at + duration_ms`)
    t.ok(Math.abs(row.started_at.getTime() - received[i].at) < 1000, `attempt ${i + 1}: started_at is when it was sent`)
  })
  t.same(times.map((row) => row.next_retry_at === null ? null : row.next_retry_at.getTime() - row.completed_at.getTime() >= 10), [true, true, null],
    'next_retry_at is set on the failed attempts, 10 ms or more after they ended')
})

t.test('always 500: exactly max_attempts calls and one dead letter; 400 is dead-lettered at once', async (t) => {
  const failing = await startHttpTarget(t)
  failing.respond = (_req, res) => { res.writeHead(500).end('boom') }
  const rejecting = await startHttpTarget(t)
  rejecting.respond = (_req, res) => { res.writeHead(400).end('bad') }
  const { app, pool, schema } = await build(t)
  const retry = { max_attempts: 4, backoff_strategy: 'exponential', initial_delay_ms: 10, max_delay_ms: 40, jitter: true }
  const a = await insertObserver(pool, schema, { name: 'always-500', actions: [{ type: 'log' }, { type: 'webhook', url: failing.url }], retry_config: retry })
  const b = await insertObserver(pool, schema, { name: 'always-400', actions: [{ type: 'webhook', url: rejecting.url }], retry_config: retry })
  await insertChanges(pool, schema, 1)
  const dead = await eventually(async () => {
    const { rows } = await pool.query(`select * from "${schema}".tb_observer_dead_letter order by observer_name`)
    return rows.length === 2 ? rows : undefined
  })
  t.match(dead[0], { observer_id: b, observer_name: 'always-400', action_index: 0, action_type: 'webhook', attempts: 1, error_code: 'HTTP_400' })
  t.match(dead[1], { observer_id: a, observer_name: 'always-500', action_index: 1, action_type: 'webhook', attempts: 4, error_code: 'HTTP_500' })
  t.equal(failing.received.length, 4, 'exactly max_attempts calls')
  t.equal(rejecting.received.length, 1, 'a 400 is not retried')
  t.equal(await countRows(pool, schema, 'tb_observer_log', `observer_id = '${a}' and action_index = 0 and status = 'success'`), 1, 'the log action of the same observer succeeded once')
  t.match(await app.observers.health(), { dead_letters: 2, retries_pending: 0 })
  const list = await app.observers.deadLetters.list({}, 10)
  t.equal(list.data.length, 2)
})

t.test('a slow endpoint beyond timeout_ms is a transient timeout', async (t) => {
  const slow = await startHttpTarget(t)
  slow.respond = (_req, res) => { setTimeout(() => res.writeHead(200).end(), 1000).unref() }
  const { pool, schema } = await build(t)
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: slow.url, timeout_ms: 50 }], retry_config: { max_attempts: 2, backoff_strategy: 'fixed', initial_delay_ms: 10, max_delay_ms: 10 } })
  await insertChanges(pool, schema, 1)
  const logs = await eventually(async () => {
    const { rows } = await pool.query(`select status, error_code from "${schema}".tb_observer_log order by pk_observer_log`)
    return rows.length === 2 ? rows : undefined
  })
  t.same(logs, [{ status: 'timeout', error_code: 'TIMEOUT' }, { status: 'timeout', error_code: 'TIMEOUT' }], 'retried once, then given up')
  t.equal(await eventually(async () => await countRows(pool, schema, 'tb_observer_dead_letter')), 1)
})
