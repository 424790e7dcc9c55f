// Batches delivered while a commit is in flight are committed together, in read order.
import t from 'tap'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'

t.test('batches that finish during a slow commit share the next transaction; nothing is lost or doubled', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { batchSize: 10, concurrency: 32, pollIntervalMs: 10 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  const key = 1 + Math.floor(Math.random() * 2 ** 30)
  // the first batch's commit waits on an advisory lock (a row lock would hold back the snapshot
  // horizon and with it the reads) while the later batches are read and delivered
  await pool.query(`create function "${schema}".wait_for_test() returns trigger language plpgsql as $$
    begin perform pg_advisory_lock_shared(${key}); perform pg_advisory_unlock_shared(${key}); return null; end $$`)
  await pool.query(`create trigger wait_for_test after insert on "${schema}".tb_observer_log for each statement execute function "${schema}".wait_for_test()`)
  const blocker = await pool.connect()
  t.teardown(() => blocker.release())
  await blocker.query('select pg_advisory_lock($1)', [key])
  await insertChanges(pool, schema, 50)
  await sink.waitFor(50)
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 0, 'all 50 delivered, none committed yet')
  await blocker.query('select pg_advisory_unlock($1)', [key])
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log') === 50, 10_000, '50 log rows')
  const { rows } = await pool.query(`select xmin::text as tx, count(*)::int as n from "${schema}".tb_observer_log group by 1 order by min(pk_observer_log)`)
  t.same(rows.map((r) => r.n), [10, 40], 'the first batch alone, then the four that waited behind it in one transaction')
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'success'"), 50)
  t.equal(sink.received.length, 50, 'each event delivered once')
  const health = await eventually(async () => { const h = await app.observers.health(); return h.lag_events === 0 ? h : undefined })
  t.equal(health.events_processed, 50)
})
