import t from 'tap'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'

t.test('a runtime stopped and started again delivers only new events', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 5, 'order', (i) => ({ n: `before-${i}` }))
  await sink.waitFor(5)
  await eventually(async () => (await app.observers.health()).lag_events === 0 || undefined)
  await app.observers.stop()
  t.equal((await app.observers.health()).running, false)
  await insertChanges(pool, schema, 3, 'order', (i) => ({ n: `after-${i}` }))
  await app.observers.start()
  await sink.waitFor(8)
  await eventually(async () => (await app.observers.health()).lag_events === 0 || undefined)
  t.same(sink.received.map((r) => r.json.entity_id).sort(),
    ['after-0', 'after-1', 'after-2', 'before-0', 'before-1', 'before-2', 'before-3', 'before-4'], 'nothing replayed, nothing missed')
})

t.test('close() during a burst waits for in-flight actions and leaves the checkpoint consistent', async (t) => {
  const sink = await startHttpTarget(t)
  const pending: Array<() => void> = []
  let answering = false
  sink.respond = (_req, res) => {
    if (answering) res.writeHead(200).end()
    else pending.push(() => res.writeHead(200).end())
  }
  const { app, pool, schema } = await build(t, { runtime: { batchSize: 20, channelCapacity: 40, concurrency: 8, shutdownTimeoutMs: 5000 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 200)
  await sink.waitFor(8)
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 0, 'nothing is recorded while the requests are open')
  // the requests in flight are answered only once the runtime's stop began: the reader has been
  // told to stop (synchronously, inside stop()) before the first answer goes out
  const stop = app.observers.stop
  app.observers.stop = async () => {
    const stopping = stop()
    answering = true
    for (const answer of pending.splice(0)) answer()
    await stopping
  }
  await app.close()
  const { rows: [cp] } = await pool.query(`select last_change_log_id::text as id from "${schema}".observer_checkpoints`)
  const logged = await countRows(pool, schema, 'tb_observer_log', "status = 'success'")
  t.ok(logged >= 20 && logged < 200, `the batches in flight finished and were recorded (${logged}), and no more were read`)
  t.equal(sink.received.length, logged, 'every delivery made was recorded')
  const { rows: [{ n }] } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log where pk_entity_change_log <= $1`, [cp.id])
  t.equal(n, logged, 'the checkpoint covers exactly the events whose deliveries were recorded')
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0, 'nothing was interrupted')
})

t.test('close() past shutdownTimeoutMs interrupts actions and reschedules them: nothing owed is lost', async (t) => {
  const sink = await startHttpTarget(t)
  sink.respond = () => {} // never answers
  const { app, pool, schema } = await build(t, { runtime: { batchSize: 5, shutdownTimeoutMs: 100 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }], timeout_ms: 60_000 })
  await app.observers.reload()
  await insertChanges(pool, schema, 5)
  await sink.waitFor(5)
  await app.close()
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'cancelled'"), 5, 'each interrupted attempt is logged as cancelled')
  const { rows } = await pool.query(`select attempt_number, due_at <= now() as due from "${schema}".tb_observer_retry`)
  t.equal(rows.length, 5, 'and scheduled to run again')
  t.ok(rows.every((r) => r.attempt_number === 1 && r.due), 'as the same attempt, due at once')
})

t.test('a scheduled retry survives a restart and runs on the next runtime', async (t) => {
  const sink = await startHttpTarget(t)
  let calls = 0
  sink.respond = (_req, res) => { calls++; res.writeHead(calls === 1 ? 503 : 200).end() }
  const first = await build(t)
  await insertObserver(first.pool, first.schema, { actions: [{ type: 'webhook', url: sink.url }], retry_config: { initial_delay_ms: 1500, jitter: false } })
  await first.app.observers.reload()
  await insertChanges(first.pool, first.schema, 1)
  await eventually(async () => await countRows(first.pool, first.schema, 'tb_observer_retry') === 1 || undefined)
  await first.app.observers.stop()
  const second = await build(t, {}, { pool: first.pool, schema: first.schema })
  await sink.waitFor(2)
  t.equal(sink.received[0].headers['webhook-id'], sink.received[1].headers['webhook-id'])
  await eventually(async () => await countRows(second.pool, second.schema, 'tb_observer_retry') === 0 || undefined)
  t.equal(await countRows(second.pool, second.schema, 'tb_observer_log', "status = 'success' and attempt_number = 2"), 1)
})

t.test('custom actions run with the event and their config; a throw is retried', async (t) => {
  const seen: unknown[] = []
  let calls = 0
  const { pool, schema } = await build(t, {
    actions: {
      crm: async (event, config) => {
        calls++
        if (calls === 1) throw new Error('crm down')
        seen.push({ id: event.entity_id, list: config.list })
      }
    }
  })
  await insertObserver(pool, schema, { actions: [{ type: 'crm', list: 'vip' }], retry_config: { initial_delay_ms: 10, jitter: false } })
  await insertChanges(pool, schema, 1, 'customer', () => ({ n: 'c1' }))
  await eventually(() => seen.length === 1 || undefined)
  t.same(seen, [{ id: 'c1', list: 'vip' }])
  t.equal(calls, 2)
})
