// The re-split's switch (lib/db/resplit.repo.ts): only once every partition has reached the barrier
// and no one holds one; then each new partition starts there, with what was carried past it.
import t from 'tap'
import { build } from '../helper.js'
import { partitionOf, recordPartitions } from '../../lib/db/partitions.repo.js'
import { listenerState, requestResplit, switchPartitions } from '../../lib/db/resplit.repo.js'

t.test('the switch waits for every partition at the barrier and for their locks, then moves the ledger and the waits past the barrier to the new partitions', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const { db } = app.observers
  const q = async (text: string, values: unknown[] = []) => (await pool.query(text.replaceAll('$S', `"${schema}"`), values)).rows
  const insertKeys = async (from: number) => await q(`insert into $S.tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', 'k' || g, 'UPDATE', '{}' from generate_series(${from}, ${from + 19}) g`)
  await recordPartitions(db, schema, 'default', 4)
  await insertKeys(0)
  t.equal(await requestResplit(db, schema, 'default', 8), 'requested')
  const barrier = (await listenerState(db, schema, 'default'))?.resplit?.barrier_txid as string
  await insertKeys(20)
  // every row in its old partition's ahead-ledger, as if read beyond a stuck horizon
  await q(`insert into $S.tb_change_log_ahead (listener_id, change_log_id, txid)
    select 'default#' || ${partitionOf(4, 'object_type', 'object_id')}, pk_entity_change_log, txid from $S.tb_entity_change_log`)
  // an event of k25 parked behind an unread earlier change past the barrier, waiting in its old partition
  const [past] = await q('select txid::text as txid, pk_entity_change_log::text as id from $S.tb_entity_change_log where object_id = \'k25\'')
  await q(`insert into $S.tb_observer_parked (observer_id, entity_type, entity_id, event_id, event, waits_for_listener, waits_for_txid, waits_for_change_log_id)
    values (gen_random_uuid(), 'order', 'k25', gen_random_uuid(), '{}', 'default#' || ${partitionOf(4, "'order'", "'k25'")}, $1::xid8, $2)`, [past.txid, past.id])

  t.same(await switchPartitions(db, schema, 'default'), { switched: false }, 'no partition has reached the barrier')
  await q('update $S.observer_checkpoints set last_txid = $1::xid8, last_change_log_id = 0 where listener_id in (\'default#0\', \'default#1\', \'default#2\')', [barrier])
  t.same(await switchPartitions(db, schema, 'default'), { switched: false }, 'one has not')
  t.same((await listenerState(db, schema, 'default'))?.resplit?.at_barrier, [0, 1, 2])
  await q('update $S.observer_checkpoints set last_txid = $1::xid8, last_change_log_id = 0 where listener_id = \'default#3\'', [barrier])
  const holder = await pool.connect()
  await holder.query('select pg_advisory_lock(hashtext($1), hashtext($2))', [schema, 'default#2'])
  t.same(await switchPartitions(db, schema, 'default'), { switched: false }, 'a holder still has one')
  await holder.query('select pg_advisory_unlock(hashtext($1), hashtext($2))', [schema, 'default#2'])
  holder.release()

  t.same(await switchPartitions(db, schema, 'default'), { switched: true, from: 4, to: 8 })
  t.same(await listenerState(db, schema, 'default'), { listener_id: 'default', partitions: 8, resplit: null })
  t.same(await switchPartitions(db, schema, 'default'), { switched: false }, 'a second switch finds nothing to do')
  const checkpoints = await q('select listener_id, last_txid::text as txid, last_change_log_id::text as id from $S.observer_checkpoints order by listener_id')
  t.same(checkpoints, Array.from({ length: 8 }, (_, p) => ({ listener_id: `default#${p}`, txid: barrier, id: '0' })), 'every new partition starts at the barrier')
  t.same((await q('select partition from $S.tb_observer_partition order by partition')).map((r) => r.partition), [0, 1, 2, 3, 4, 5, 6, 7])
  const [ledger] = await q(`select count(*)::int as total, count(*) filter (where a.listener_id = 'default#' || ${partitionOf(8, 'c.object_type', 'c.object_id')})::int as moved,
      count(*) filter (where a.txid < $1::xid8)::int as before from $S.tb_change_log_ahead a join $S.tb_entity_change_log c on c.pk_entity_change_log = a.change_log_id`, [barrier])
  t.same(ledger, { total: 20, moved: 20, before: 0 }, 'the rows past the barrier are in their new partition\'s ledger; those before it are behind every checkpoint')
  const [parked] = await q('select waits_for_listener from $S.tb_observer_parked')
  const [expected] = await q(`select 'default#' || ${partitionOf(8, "'order'", "'k25'")} as id`)
  t.equal(parked.waits_for_listener, expected.id, 'the parked event waits in the new partition of its key')
})
