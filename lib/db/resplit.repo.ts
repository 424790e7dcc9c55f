// Re-splitting a listener's stream into another number of partitions (SPEC 9.2; the reasoning is in
// lib/runtime/README.md, "Re-splitting"). A request records the new count and a barrier: the id of
// the request's own transaction. Each partition reads the rows of the transactions below it, then
// moves its checkpoint to (barrier, 0) and reads no further. Once every partition is there and no
// one holds one, the switch writes the new count and starts each new partition at the barrier.
import { sql, type Kysely } from 'kysely'
import { checkpointChannel } from './checkpoint.repo.js'
import { partitionOf, partitionStreamId } from './partitions.repo.js'
import type { Database } from './types.js'

export interface Resplit {
  /** the count asked for */
  partitions: number
  /** the id of the transaction that asked: the partitions stop before its successors' rows */
  barrier_txid: string
  requested_at: Date
  /** the partitions (of the current count) whose checkpoint has reached the barrier */
  at_barrier: number[]
}

export interface ListenerState { listener_id: string, partitions: number, resplit: Resplit | null }

/** The count a listener runs with and the re-split under way; undefined for a listener never started. */
export async function listenerState (db: Kysely<Database>, schema: string, listenerId: string): Promise<ListenerState | undefined> {
  const row = await db.selectFrom('tb_observer_listener')
    .select(['listener_id', 'partitions', 'resplit_to', sql<string | null>`barrier_txid::text`.as('barrier_txid'), 'resplit_requested_at'])
    .where('listener_id', '=', listenerId).executeTakeFirst()
  if (row === undefined) return undefined
  const { partitions, resplit_to: to, barrier_txid: barrier, resplit_requested_at: requestedAt } = row
  if (to === null || barrier === null || requestedAt === null) return { listener_id: listenerId, partitions, resplit: null }
  const atBarrier = await partitionsAtBarrier(db, schema, listenerId, partitions, barrier)
  return { listener_id: listenerId, partitions, resplit: { partitions: to, barrier_txid: barrier, requested_at: requestedAt, at_barrier: atBarrier } }
}

/** The partitions (of `count`) whose checkpoint is at or past the barrier: all they had to read before it is committed. */
export async function partitionsAtBarrier (db: Kysely<Database>, schema: string, listenerId: string, count: number, barrier: string): Promise<number[]> {
  const { rows } = await sql<{ partition: number }>`select p as partition from generate_series(0, ${count - 1}) p
      join ${sql.id(schema, 'observer_checkpoints')} c on c.listener_id = ${listenerId} || '#' || p
     where (c.last_txid, c.last_change_log_id) >= (${barrier}::xid8, 0) order by p`.execute(db)
  return rows.map((r) => r.partition)
}

export type ResplitRequest = 'unknown' | 'unchanged' | 'requested' | 'pending' | 'cancelled' | { underWay: number }

/**
 * Asks for `partitions`: a new request (its barrier is this transaction), the same one again
 * ('pending'), the current count ('unchanged', or 'cancelled' when a re-split was under way: the
 * partitions read on past the barrier), or another count while one is under way (refused).
 */
export async function requestResplit (db: Kysely<Database>, schema: string, listenerId: string, partitions: number): Promise<ResplitRequest> {
  return await db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('tb_observer_listener').select(['partitions', 'resplit_to'])
      .where('listener_id', '=', listenerId).forUpdate().executeTakeFirst()
    if (row === undefined) return 'unknown'
    if (row.resplit_to === partitions) return 'pending'
    const listener = trx.updateTable('tb_observer_listener').where('listener_id', '=', listenerId)
    if (partitions === row.partitions) {
      if (row.resplit_to === null) return 'unchanged'
      await listener.set({ resplit_to: null, barrier_txid: null, resplit_requested_at: null }).execute()
      return 'cancelled'
    }
    if (row.resplit_to !== null) return { underWay: row.resplit_to }
    // A reader whose snapshot does not see this request sees this transaction open: its horizon is
    // at or below it, so it reads only rows before the barrier, like the readers that see it.
    await listener.set({ resplit_to: partitions, barrier_txid: sql<string>`pg_current_xact_id()`, resplit_requested_at: sql<Date>`now()` }).execute()
    // each partition's reader goes back to its checkpoint and reads again at once, meeting the barrier
    // there rather than at its next poll (the listener's name concerns each of its partitions)
    await sql`select pg_notify(${checkpointChannel(schema)}, ${listenerId})`.execute(trx)
    return 'requested'
  })
}

export type Switch = { switched: false } | { switched: true, from: number, to: number }

/**
 * The switch, when every partition has reached the barrier and none is held: in one transaction,
 * holding each old partition's lock (so no holder of the old count reads or takes one until it
 * commits, and one that takes it afterwards finds the count changed), it writes the new count and
 * starts each new partition at the barrier. What a partition carried past the barrier follows
 * each row's key to its new partition: the ahead-ledger (rows read beyond a stuck horizon, before
 * the request) and the unread change a parked event waits for. Held keys and parked events are
 * rows per key, found by the new partitions' hash. Idempotent: a second caller finds nothing to do.
 */
export async function switchPartitions (db: Kysely<Database>, schema: string, listenerId: string): Promise<Switch> {
  return await db.transaction().execute(async (trx): Promise<Switch> => {
    const row = await trx.selectFrom('tb_observer_listener').select(['partitions', 'resplit_to', sql<string | null>`barrier_txid::text`.as('barrier_txid')])
      .where('listener_id', '=', listenerId).forUpdate().executeTakeFirst()
    if (row?.resplit_to == null || row.barrier_txid === null) return { switched: false }
    const { partitions: from, resplit_to: to, barrier_txid: barrier } = row
    const { rows: [locks] } = await sql<{ taken: boolean }>`select bool_and(pg_try_advisory_xact_lock(hashtext(${schema}), hashtext(${listenerId} || '#' || p))) as taken
      from generate_series(0, ${from - 1}) p`.execute(trx)
    if (!locks.taken) return { switched: false }
    if ((await partitionsAtBarrier(trx, schema, listenerId, from, barrier)).length < from) return { switched: false }
    const t = (name: string) => sql.id(schema, name)
    const old = Array.from({ length: from }, (_, p) => partitionStreamId(listenerId, p))
    const added = Array.from({ length: to }, (_, p) => partitionStreamId(listenerId, p)).filter((id) => !old.includes(id))
    const newPartition = (type: string, id: string) => sql`${listenerId} || '#' || ${sql.raw(partitionOf(to, type, id))}`
    // a new partition's ledger starts empty (rows left by an earlier count are stale)
    if (added.length > 0) await trx.deleteFrom('tb_change_log_ahead').where('listener_id', 'in', added).execute()
    await sql`insert into ${t('tb_change_log_ahead')} (listener_id, change_log_id, txid)
      select ${newPartition('c.object_type', 'c.object_id')}, a.change_log_id, a.txid
        from ${t('tb_change_log_ahead')} a join ${t('tb_entity_change_log')} c on c.pk_entity_change_log = a.change_log_id
       where a.listener_id = any(${old}) and (a.txid, a.change_log_id) > (${barrier}::xid8, 0)
      on conflict do nothing`.execute(trx)
    await sql`delete from ${t('tb_change_log_ahead')} a where a.listener_id = any(${old})
       and not exists (select 1 from ${t('tb_entity_change_log')} c where c.pk_entity_change_log = a.change_log_id
                        and (a.txid, a.change_log_id) > (${barrier}::xid8, 0) and a.listener_id = ${newPartition('c.object_type', 'c.object_id')})`.execute(trx)
    await sql`update ${t('tb_observer_parked')} set waits_for_listener = ${newPartition('entity_type', 'entity_id')}
       where waits_for_listener = any(${old})`.execute(trx)
    await trx.deleteFrom('observer_checkpoints').where('listener_id', 'in', old).execute()
    await sql`insert into ${t('observer_checkpoints')} (listener_id, last_txid, last_change_log_id)
      select ${listenerId} || '#' || p, ${barrier}::xid8, 0 from generate_series(0, ${to - 1}) p
      on conflict (listener_id) do update set last_txid = excluded.last_txid, last_change_log_id = 0, updated_at = now()`.execute(trx)
    await trx.deleteFrom('tb_observer_partition').where('listener_id', '=', listenerId).where('partition', '>=', to).execute()
    await sql`insert into ${t('tb_observer_partition')} (listener_id, partition)
      select ${listenerId}, p from generate_series(0, ${to - 1}) p on conflict do nothing`.execute(trx)
    await trx.updateTable('tb_observer_partition').set({ holder: null, session_pid: null }).where('listener_id', '=', listenerId).execute()
    await trx.updateTable('tb_observer_listener').set({ partitions: to, resplit_to: null, barrier_txid: null, resplit_requested_at: null })
      .where('listener_id', '=', listenerId).execute()
    return { switched: true, from, to }
  })
}
