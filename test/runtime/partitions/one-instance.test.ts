// One instance with the stream in partitions: it holds them all, delivers every event, and shows
// its partitions in health, the instances route and the metrics.
import t from 'tap'
import { AUTH, build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { insertChanges, insertObserver } from '../../helpers/rows.js'

t.test('alone, an instance reads every partition, and says so', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { start: false, partitions: 4, instanceId: 'solo', partitionLeaseMs: 2000 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await insertChanges(pool, schema, 200)
  // a transaction holding a snapshot elsewhere: the partition index waits for it, the reading does not
  const open = await pool.connect()
  await open.query('begin isolation level repeatable read')
  await open.query('select 1')
  await app.observers.start()
  await sink.waitFor(200, 30_000)
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 200, 'every event of every partition delivered')
  const health = await eventually(async () => { const h = await app.observers.health(); return h.partitions_held === 4 ? h : undefined }, 10_000, 'four partitions held')
  t.match(health, { reading: true, partitions_held: 4 })
  await open.query('rollback')
  open.release()
  // the last batches commit just after their deliveries arrive
  const instances = await eventually(async () => {
    const body = (await app.inject({ url: '/observers/runtime/instances', headers: AUTH })).json()
    return body.data[0]?.partitions.every((p: { lag_events: number }) => p.lag_events === 0) === true ? body : undefined
  }, 10_000, 'every partition read to its end')
  t.match(instances, { partitions: 4, data: [{ instance_id: 'solo', pid: process.pid, partitions: [{ partition: 0 }, { partition: 1 }, { partition: 2 }, { partition: 3 }] }] })
  t.ok(instances.data[0].partitions.every((p: { term: string, lag_events: number }) => p.term === '1' && p.lag_events === 0), 'each taken once, nothing left to read')
  const metrics = (await app.inject({ url: '/observers/metrics', headers: AUTH })).body
  for (const p of [0, 1, 2, 3]) {
    t.match(metrics, `observers_partition_held{partition="${p}"} 1`)
    t.match(metrics, `observers_partition_lag_events{partition="${p}"} 0`)
  }
  await app.observers.stop()
  const after = (await app.inject({ url: '/observers/runtime/instances', headers: AUTH })).json()
  t.same(after.data, [], 'a stopped instance leaves')
})

t.test('a listener that read as one stream and now starts in partitions leaves no checkpoint behind to hold retention', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { start: false, partitions: 4, instanceId: 'upgraded', partitionLeaseMs: 2000 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await insertChanges(pool, schema, 200)
  // where a reader of the whole stream (before partitions) left the listener: half way
  await pool.query(`insert into "${schema}".observer_checkpoints (listener_id, last_txid, last_change_log_id)
    select 'default', txid, pk_entity_change_log from "${schema}".tb_entity_change_log order by txid, pk_entity_change_log offset 99 limit 1`)
  await app.observers.start()
  await sink.waitFor(100, 30_000)
  const { rows } = await pool.query(`select listener_id from "${schema}".observer_checkpoints order by listener_id`)
  t.same(rows.map((r) => r.listener_id), ['default#0', 'default#1', 'default#2', 'default#3'], 'the partitions took over the listener\'s position; it is gone')
  const health = await eventually(async () => { const h = await app.observers.health(); return h.lag_events === 0 ? h : undefined }, 10_000, 'no lag once every partition is read')
  t.match(health, { partitions_held: 4, lag_events: 0 })
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 100, 'the second half delivered, once')
  await app.observers.stop()
})

t.test('an instance holding more partitions than its pool has connections still delivers: a stream\'s session is its own connection', async (t) => {
  const sink = await startHttpTarget(t)
  // the pool of build() has 10 connections
  const { app, pool, schema } = await build(t, { runtime: { start: false, partitions: 12, instanceId: 'many', partitionLeaseMs: 2000 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await insertChanges(pool, schema, 200)
  await app.observers.start()
  await eventually(async () => (await app.observers.health()).partitions_held === 12 || undefined, 20_000, 'twelve partitions held')
  await sink.waitFor(200, 30_000)
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 200, 'every event delivered')
  await app.observers.stop()
  const { rows: [{ n }] } = await pool.query(`select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = any(
      select hashtext('default#' || p)::oid from generate_series(0, 11) p) and classid = hashtext($1)::oid`, [schema])
  t.equal(n, 0, 'and its sessions are gone once it stops')
})
