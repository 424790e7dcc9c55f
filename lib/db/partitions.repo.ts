// Partitions of a listener's stream and the instances that share them (SPEC 9.2; see
// migrations/020-partitions.ts and lib/runtime/partitions/).
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Database } from './types.js'

/** The partition of a change-log row (alias `a`, its object columns) or of a held key, out of `count`. */
export const partitionOf = (count: number, type: string, id: string): string =>
  `((hashtext(${type} || '/' || ${id}) & 2147483647) % ${count})`

/** The checkpoint (and lease key) of one partition; `#` never appears in a listener id. */
export const partitionStreamId = (listenerId: string, partition: number): string => `${listenerId}#${partition}`

export interface PartitionRow { partition: number, holder: string | null, term: string, session_pid: number | null }

/** The partition count recorded for a listener, or undefined when it was never started partitioned. */
export async function recordedPartitions (db: Kysely<Database>, listenerId: string): Promise<number | undefined> {
  const row = await db.selectFrom('tb_observer_listener').select('partitions').where('listener_id', '=', listenerId).executeTakeFirst()
  return row?.partitions
}

/**
 * Records `count` for a listener seen for the first time, its partitions' rows and checkpoints,
 * each starting where the listener's one checkpoint was (with its ahead-ledger), which they replace:
 * one position for all, so nothing is skipped or read twice. Answers the count recorded (another instance's, if first).
 */
export async function recordPartitions (db: Kysely<Database>, schema: string, listenerId: string, count: number): Promise<number> {
  return await db.transaction().execute(async (trx) => {
    const inserted = await trx.insertInto('tb_observer_listener').values({ listener_id: listenerId, partitions: count })
      .onConflict((oc) => oc.column('listener_id').doNothing()).returning('partitions').executeTakeFirst()
    if (inserted === undefined) return (await recordedPartitions(trx, listenerId)) as number
    if (count === 1) return count
    const t = (name: string) => sql.id(schema, name)
    await sql`insert into ${t('tb_observer_partition')} (listener_id, partition)
      select ${listenerId}, p from generate_series(0, ${count - 1}) p on conflict do nothing`.execute(trx)
    await sql`insert into ${t('observer_checkpoints')} (listener_id, last_txid, last_change_log_id)
      select ${listenerId} || '#' || p, coalesce(c.last_txid, '0'::xid8), coalesce(c.last_change_log_id, 0)
        from generate_series(0, ${count - 1}) p left join ${t('observer_checkpoints')} c on c.listener_id = ${listenerId}
      on conflict (listener_id) do nothing`.execute(trx)
    await sql`insert into ${t('tb_change_log_ahead')} (listener_id, change_log_id, txid)
      select ${listenerId} || '#' || p, a.change_log_id, a.txid
        from generate_series(0, ${count - 1}) p join ${t('tb_change_log_ahead')} a on a.listener_id = ${listenerId}
      on conflict do nothing`.execute(trx)
    // the listener's one position lives on in its partitions; left behind, it would hold the change
    // log's retention at that point for ever (no count of partitions reads it again)
    await sql`delete from ${t('tb_change_log_ahead')} where listener_id = ${listenerId}`.execute(trx)
    await sql`delete from ${t('observer_checkpoints')} where listener_id = ${listenerId}`.execute(trx)
    return count
  })
}

/**
 * The index that reads one partition's rows in commit order along one range scan. It depends on
 * the count, so it is made when a listener first runs with it; CONCURRENTLY, so captures go on.
 */
export async function ensurePartitionIndex (db: Kysely<Database>, schema: string, count: number): Promise<void> {
  const name = `tb_entity_change_log_partition_${count}`
  const { rows } = await sql<{ valid: boolean }>`select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
    join pg_namespace n on n.oid = c.relnamespace where n.nspname = ${schema} and c.relname = ${name}`.execute(db)
  if (rows[0]?.valid === true) return
  // an index left invalid by an interrupted build is made again
  if (rows.length > 0) await sql`drop index concurrently if exists ${sql.id(schema, name)}`.execute(db)
  await sql`create index concurrently if not exists ${sql.id(name)} on ${sql.id(schema, 'tb_entity_change_log')}
    (${sql.raw(partitionOf(count, 'object_type', 'object_id'))}, txid, pk_entity_change_log)`.execute(db)
}

/** This instance is alive (its row made on first call). */
export async function heartbeat (db: Kysely<Database>, instance: { instance_id: string, host: string, pid: number }): Promise<void> {
  await db.insertInto('tb_observer_instance').values(instance)
    .onConflict((oc) => oc.column('instance_id').doUpdateSet({ host: instance.host, pid: instance.pid, last_seen: sql`now()` }))
    .execute()
}

/** The instances heard from within `leaseMs`, by id. */
export async function liveInstances (db: Kysely<Database>, leaseMs: number): Promise<string[]> {
  const rows = await db.selectFrom('tb_observer_instance').select('instance_id')
    .where('last_seen', '>', sql<Date>`now() - make_interval(secs => ${leaseMs / 1000})`)
    .orderBy('instance_id').execute()
  return rows.map((r) => r.instance_id)
}

export async function partitionRows (db: Kysely<Database>, listenerId: string): Promise<PartitionRow[]> {
  const rows = await db.selectFrom('tb_observer_partition').select(['partition', 'holder', sql<string>`term::text`.as('term'), 'session_pid'])
    .where('listener_id', '=', listenerId).orderBy('partition').execute()
  return rows
}

/**
 * The partition's lock was taken by `holder`'s session `pid`: a new term. Answers the term, or
 * undefined when the listener no longer runs with `count` partitions (a re-split switched it: the
 * partition of that number now holds other keys, and the holder must let the lock go).
 */
export async function partitionTaken (db: Kysely<Database>, listenerId: string, partition: number, count: number, holder: string, pid: number): Promise<string | undefined> {
  const row = await db.updateTable('tb_observer_partition')
    .set({ holder, term: sql`term + 1`, session_pid: pid, taken_at: sql`now()` })
    .where('listener_id', '=', listenerId).where('partition', '=', partition)
    .where((eb) => eb.exists(eb.selectFrom('tb_observer_listener as l').select(sql`1`.as('one'))
      .where('l.listener_id', '=', listenerId).where('l.partitions', '=', count)))
    .returning(sql<string>`term::text`.as('term')).executeTakeFirst()
  return row?.term
}

/** `holder` let the partition go (drained and committed): anyone may take it now. */
export async function partitionReleased (db: Kysely<Database>, listenerId: string, partition: number, holder: string): Promise<void> {
  await db.updateTable('tb_observer_partition').set({ holder: null, session_pid: null })
    .where('listener_id', '=', listenerId).where('partition', '=', partition).where('holder', '=', holder).execute()
}

/**
 * Ends the session that still holds the lock of a partition whose holder went silent (a paused
 * process keeps its connection, and with it the lock): only the recorded session, and only while
 * it holds that very lock, so a reused pid is never hit. Its commits are refused from then on.
 */
export async function endStaleSession (db: Kysely<Database>, schema: string, streamId: string, pid: number): Promise<boolean> {
  const { rows } = await sql<{ ended: boolean }>`select pg_terminate_backend(l.pid) as ended from pg_locks l
    where l.locktype = 'advisory' and l.granted and l.pid = ${pid} and l.objsubid = 2
      and l.classid = hashtext(${schema})::oid and l.objid = hashtext(${streamId})::oid`.execute(db)
  return rows[0]?.ended === true
}

/** This instance stopped: it is no longer counted in the share. */
export async function instanceGone (db: Kysely<Database>, instanceId: string): Promise<void> {
  await db.deleteFrom('tb_observer_instance').where('instance_id', '=', instanceId).execute()
}

/** How far a lag count goes before it answers "at least this many". */
export const PARTITION_LAG_BOUND = 10_000

/** Where a partition's reader stands: the partition (out of the count asked with) and its position. */
export interface PartitionPosition { partition: number, txid: string, id: string }

/**
 * Of the given partitions, those with a change-log row after their reader's position: one index
 * probe each (the partition index, as a read), in one statement for all of them.
 */
export async function partitionsWithRows (db: Kysely<Database>, schema: string, count: number, at: readonly PartitionPosition[]): Promise<Set<number>> {
  if (at.length === 0) return new Set()
  const { rows } = await partitionsWithRowsQuery(schema, count, at).execute(db)
  return new Set(rows.map((r) => r.partition))
}

/** The statement partitionsWithRows() runs (its plan is checked in test/db/read-plan.test.ts). */
export function partitionsWithRowsQuery (schema: string, count: number, at: readonly PartitionPosition[]): RawBuilder<{ partition: number }> {
  const part = sql.raw(partitionOf(count, 'l.object_type', 'l.object_id'))
  return sql<{ partition: number }>`
    select s.p as partition from unnest(${at.map((a) => a.partition)}::int[], ${at.map((a) => a.txid)}::xid8[], ${at.map((a) => a.id)}::bigint[]) as s(p, t, i)
     where exists (select 1 from ${sql.id(schema, 'tb_entity_change_log')} l
                    where (${part}, l.txid, l.pk_entity_change_log) > (s.p, s.t, s.i) and ${part} = s.p)`
}

/** Rows after each given partition's checkpoint, counted up to PARTITION_LAG_BOUND. */
export async function partitionLags (db: Kysely<Database>, schema: string, listenerId: string, count: number, partitions: readonly number[]): Promise<Map<number, number>> {
  if (partitions.length === 0) return new Map()
  const t = (name: string) => sql.id(schema, name)
  const { rows } = await sql<{ partition: number, lag: number }>`
    select p.partition, (select count(*) from (select 1 from ${t('tb_entity_change_log')} l
             where ${sql.raw(partitionOf(count, 'l.object_type', 'l.object_id'))} = p.partition
               and (l.txid, l.pk_entity_change_log) > (c.last_txid, c.last_change_log_id)
             limit ${PARTITION_LAG_BOUND}) x)::int as lag
      from unnest(${partitions}::int[]) as p(partition)
      join ${t('observer_checkpoints')} c on c.listener_id = ${listenerId} || '#' || p.partition`.execute(db)
  return new Map(rows.map((r) => [r.partition, r.lag]))
}

/** What every partition of a listener has left to read: rows after its checkpoint (bounded), and the oldest one's time. */
export async function partitionBacklogs (db: Kysely<Database>, schema: string, listenerId: string, count: number): Promise<Array<{ lag: number, oldest: Date | null }>> {
  const t = (name: string) => sql.id(schema, name)
  const mine = sql.raw(`${partitionOf(count, 'l.object_type', 'l.object_id')} = p`)
  const { rows } = await sql<{ lag: number, oldest: Date | null }>`
    select (select count(*) from (select 1 from ${t('tb_entity_change_log')} l
             where ${mine} and (l.txid, l.pk_entity_change_log) > (c.last_txid, c.last_change_log_id)
             limit ${PARTITION_LAG_BOUND}) x)::int as lag,
           (select l.created_at from ${t('tb_entity_change_log')} l
             where ${mine} and (l.txid, l.pk_entity_change_log) > (c.last_txid, c.last_change_log_id)
             order by ${sql.raw(partitionOf(count, 'l.object_type', 'l.object_id'))}, l.txid, l.pk_entity_change_log limit 1) as oldest
      from generate_series(0, ${count - 1}) p
      join ${t('observer_checkpoints')} c on c.listener_id = ${listenerId} || '#' || p`.execute(db)
  return rows
}

export interface PartitionView { partition: number, term: string, checkpoint: string, lag_events: number }
export interface InstanceView { instance_id: string, host: string, pid: number, started_at: Date, last_seen: Date, partitions: PartitionView[] }

/**
 * The live instances and the partitions each holds, with each partition's term, checkpoint and
 * lag (rows after its checkpoint, counted along the partition's index up to PARTITION_LAG_BOUND).
 */
export async function listInstances (db: Kysely<Database>, schema: string, listenerId: string, count: number, leaseMs: number): Promise<InstanceView[]> {
  const t = (name: string) => sql.id(schema, name)
  const { rows: instances } = await sql<Omit<InstanceView, 'partitions'>>`select instance_id, host, pid, started_at, last_seen
    from ${t('tb_observer_instance')} where last_seen > now() - make_interval(secs => ${leaseMs / 1000}) order by instance_id`.execute(db)
  const { rows: partitions } = await sql<PartitionView & { holder: string }>`
    select p.partition, p.holder, p.term::text as term, c.last_change_log_id::text as checkpoint,
           (select count(*) from (select 1 from ${t('tb_entity_change_log')} l
             where ${sql.raw(partitionOf(count, 'l.object_type', 'l.object_id'))} = p.partition
               and (l.txid, l.pk_entity_change_log) > (c.last_txid, c.last_change_log_id)
             limit ${PARTITION_LAG_BOUND}) x)::int as lag_events
      from ${t('tb_observer_partition')} p
      join ${t('observer_checkpoints')} c on c.listener_id = p.listener_id || '#' || p.partition
     where p.listener_id = ${listenerId} and p.holder is not null
     order by p.partition`.execute(db)
  return instances.map((i) => ({
    ...i,
    partitions: partitions.filter((p) => p.holder === i.instance_id).map(({ holder, ...p }) => p)
  }))
}
