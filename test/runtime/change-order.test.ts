// Per key, an ordered observer gets a row's changes in the order they were made (SPEC 9.1 as
// amended), not in transaction-id order. The race is forced with locks: T2 takes the lower
// transaction id by writing elsewhere first, T1 updates the row and holds its lock, T2's update of
// the same row waits on that lock and applies after T1 commits.
import t, { type Test } from 'tap'
import type pg from 'pg'
import { AUTH, build, eventually } from '../helper.js'
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js'
import { countRows, insertObserver } from '../helpers/rows.js'

/** The `status` values each observer received, in arrival order, by observer name. */
const statuses = (sink: HttpTarget, observer: string): string[] =>
  sink.received.filter((r) => r.json?.observer?.name === observer).map((r) => r.json.data.status as string)

interface Race { pool: pg.Pool, schema: string }

/** A captured `items` table with row 1 (written before the capture: not an event). */
async function itemsTable (t: Test, app: Awaited<ReturnType<typeof build>>['app'], { pool, schema }: Race): Promise<void> {
  await pool.query(`create table "${schema}".items (id int primary key, status text not null)`)
  await pool.query(`create table "${schema}".elsewhere (n int)`)
  await pool.query(`insert into "${schema}".items values (1, 'v0')`)
  t.match(await app.observers.captures.attach({ schema, table: 'items' }), { ok: true })
}

/** T2 gets the lower txid, T1 changes row 1 to `first`, T2 then changes it to `second` once T1 commits. */
async function updateInOppositeOrderToTxids (t: Test, { pool, schema }: Race, first: string, second: string): Promise<void> {
  const t1 = await pool.connect()
  const t2 = await pool.connect()
  t.teardown(() => { t1.release(); t2.release() })
  await t2.query('begin')
  await t2.query(`insert into "${schema}".elsewhere values (1)`)
  await t1.query('begin')
  await t1.query(`update "${schema}".items set status = $1 where id = 1`, [first])
  const { rows: [{ pid }] } = await t2.query('select pg_backend_pid() as pid')
  const blocked = t2.query(`update "${schema}".items set status = $1 where id = 1`, [second])
  await eventually(async () => {
    const { rows } = await pool.query("select 1 from pg_stat_activity where pid = $1 and wait_event_type = 'Lock'", [pid])
    return rows.length === 1
  }, 10_000, "T2's update waiting on T1's row lock")
  await t1.query('commit')
  await blocked
  await t2.query('commit')
  const { rows } = await pool.query(`select object_data->>'status' as status, txid::text as txid, pk_entity_change_log::text as id
    from "${schema}".tb_entity_change_log order by pk_entity_change_log`)
  const [a, b] = rows.slice(-2)
  t.equal(a.status, first, 'the change made first has the lower change-log id')
  t.ok(BigInt(a.txid) > BigInt(b.txid) && b.status === second, 'and the higher transaction id')
}

t.test('one batch: two ordered observers each get T1 then T2, and end on the latest state', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { horizonStallMs: 60_000 } })
  await itemsTable(t, app, { pool, schema })
  for (const name of ['a', 'b']) await insertObserver(pool, schema, { name, ordering: 'entity', actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await updateInOppositeOrderToTxids(t, { pool, schema }, 'v1', 'v2')
  await sink.waitFor(4)
  t.same(statuses(sink, 'a'), ['v1', 'v2'])
  t.same(statuses(sink, 'b'), ['v1', 'v2'])
})

t.test('one row per batch: the later-made change is parked until the reader has read the earlier one', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { batchSize: 1, horizonStallMs: 60_000 } })
  await itemsTable(t, app, { pool, schema })
  await insertObserver(pool, schema, { name: 'a', ordering: 'entity', actions: [{ type: 'webhook', url: sink.url }] })
  await insertObserver(pool, schema, { name: 'unordered', actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await updateInOppositeOrderToTxids(t, { pool, schema }, 'v1', 'v2')
  await sink.waitFor(4)
  t.same(statuses(sink, 'a'), ['v1', 'v2'])
  t.same(statuses(sink, 'unordered').sort(), ['v1', 'v2'], 'an unordered observer gets both')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_key') === 0 || undefined, 10_000, 'the key freed')
  t.equal(await countRows(pool, schema, 'tb_observer_parked'), 0)
})

t.test('an earlier change the observer does not match holds the later one only until the reader passes it', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { batchSize: 1, horizonStallMs: 60_000 } })
  await itemsTable(t, app, { pool, schema })
  await insertObserver(pool, schema, { name: 'a', ordering: 'entity', condition_expression: "status != 'v1'", actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await updateInOppositeOrderToTxids(t, { pool, schema }, 'v1', 'v2')
  await sink.waitFor(1)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_key') === 0 || undefined, 10_000, 'the key freed')
  await pool.query(`update "${schema}".items set status = 'v3' where id = 1`)
  await sink.waitFor(2)
  t.same(statuses(sink, 'a'), ['v2', 'v3'], 'not blocked for good: the next change goes through')
})

t.test('a replay from before both changes delivers them again in the order they were made', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { batchSize: 1, horizonStallMs: 60_000 } })
  await itemsTable(t, app, { pool, schema })
  await insertObserver(pool, schema, { name: 'a', ordering: 'entity', actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await pool.query(`update "${schema}".items set status = 'start' where id = 1`)
  await sink.waitFor(1)
  const { rows: [start] } = await pool.query(`select max(pk_entity_change_log)::text as id from "${schema}".tb_entity_change_log`)
  await updateInOppositeOrderToTxids(t, { pool, schema }, 'v1', 'v2')
  await sink.waitFor(3)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_key') === 0 || undefined, 10_000, 'the key freed')
  const moved = await app.inject({ method: 'PUT', url: '/observers/checkpoint/default', headers: AUTH, payload: { after_cursor: start.id } })
  t.equal(moved.statusCode, 200)
  await sink.waitFor(5)
  t.same(statuses(sink, 'a'), ['start', 'v1', 'v2', 'v1', 'v2'])
})
