// Removal of old rows in small batches (short transactions, no long locks), by one instance at a
// time (a session advisory lock per schema).
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'
import { slowestPosition } from './checkpoint.repo.js'

/** Deletes up to `limit` execution-log rows older than `days`; returns how many went. */
export async function deleteOldLogs (db: Kysely<Database>, days: number, limit: number): Promise<number> {
  const result = await db.deleteFrom('tb_observer_log')
    .where('pk_observer_log', 'in', (eb) => eb.selectFrom('tb_observer_log').select('pk_observer_log')
      .where('created_at', '<', sql<Date>`now() - make_interval(days => ${days})`)
      .limit(limit))
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** Deletes up to `limit` change-log rows older than `days` that every listener has read. */
export async function deleteConsumedChanges (db: Kysely<Database>, days: number, limit: number): Promise<number> {
  const slowest = await slowestPosition(db)
  if (slowest === undefined) return 0
  const result = await db.deleteFrom('tb_entity_change_log')
    .where('pk_entity_change_log', 'in', (eb) => eb.selectFrom('tb_entity_change_log').select('pk_entity_change_log')
      .where('created_at', '<', sql<Date>`now() - make_interval(days => ${days})`)
      .where(sql`(txid, pk_entity_change_log)`, '<=', sql`(${slowest.txid}::xid8, ${slowest.id}::bigint)`)
      .limit(limit))
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** Runs `pass` when no other instance runs retention on this schema (a session advisory lock); null when one does. */
export async function whileHoldingRetention<T> (db: Kysely<Database>, schema: string, pass: () => Promise<T>): Promise<T | null> {
  return await db.connection().execute(async (conn) => {
    const { rows: [lock] } = await sql<{ ok: boolean }>`select pg_try_advisory_lock(hashtext('fastify-observers retention'), hashtext(${schema})) as ok`.execute(conn)
    if (!lock.ok) return null
    try {
      return await pass()
    } finally {
      await sql`select pg_advisory_unlock(hashtext('fastify-observers retention'), hashtext(${schema}))`.execute(conn)
    }
  })
}

const olderThan = (days: number) => sql<Date>`now() - make_interval(secs => ${days * 86_400})`

/** Deletes up to `limit` dead letters whose last failure is older than `days` and that no operator's retry holds. */
export async function deleteOldDeadLetters (db: Kysely<Database>, days: number, limit: number): Promise<number> {
  const result = await db.deleteFrom('tb_observer_dead_letter')
    .where('pk_observer_dead_letter', 'in', (eb) => eb.selectFrom('tb_observer_dead_letter').select('pk_observer_dead_letter')
      .where('last_failed_at', '<', olderThan(days))
      .where((w) => w.or([w('retry_claimed_until', 'is', null), w('retry_claimed_until', '<', sql<Date>`now()`)]))
      .orderBy('last_failed_at')
      .limit(limit).forUpdate().skipLocked())
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

/**
 * Ends up to `limit` scheduled retries whose observer is deleted (or gone outright) and that no
 * worker holds: each becomes a `cancelled` log row (OBSERVER_GONE), as the retry worker would
 * write when it fell due. Retries of a disabled observer stay: enabling it again runs them.
 */
export async function cancelRetriesOfDeletedObservers (db: Kysely<Database>, schema: string, limit: number): Promise<number> {
  const t = (table: string) => sql.id(schema, table)
  const { rows } = await sql<{ n: number }>`
    with gone as (
      select r.pk_observer_retry from ${t('tb_observer_retry')} r
       where not exists (select 1 from ${t('tb_observer')} o where o.id = r.observer_id and o.deleted_at is null)
         and (r.claimed_until is null or r.claimed_until < now())
       limit ${limit} for update of r skip locked),
    removed as (
      delete from ${t('tb_observer_retry')} r using gone where r.pk_observer_retry = gone.pk_observer_retry
      returning r.observer_id, r.event_id, r.change_log_id, r.action_index, r.attempt_number, r.event),
    logged as (
      insert into ${t('tb_observer_log')} (observer_id, event_id, change_log_id, entity_type, entity_id, event_type, action_index,
        action_type, status, attempt_number, max_attempts, started_at, completed_at, duration_ms, error_code, error_message, trace_id)
      select observer_id, event_id, change_log_id, coalesce(event->>'entity_type', 'unknown'), coalesce(event->>'entity_id', 'unknown'),
             coalesce(event->>'event_type', 'unknown'), action_index, 'unknown', 'cancelled', attempt_number, attempt_number,
             now(), now(), 0, 'OBSERVER_GONE', 'the observer was deleted; its scheduled retry is cancelled', event->>'trace_id'
        from removed
      returning 1)
    select count(*)::int as n from logged`.execute(db)
  return rows[0].n
}

/**
 * Frees up to `limit` held keys of deleted or disabled ordered observers with nothing parked
 * behind them and no blocker left (no retry, no dead letter of the blocking event). A live
 * observer's keys are the release worker's: it frees them with the reader's view of them in
 * memory, which a key removed under it would leave holding. The keys are locked first and
 * checked again in a later statement, whose snapshot sees whatever a batch committed while the
 * lock was being taken (a batch that parks an event locks its key first).
 */
export async function freeEmptyKeys (db: Kysely<Database>, schema: string, limit: number): Promise<number> {
  const t = (table: string) => sql.id(schema, table)
  const empty = (k: string) => sql`not exists (select 1 from ${t('tb_observer')} o
        where o.id = ${sql.ref(`${k}.observer_id`)} and o.deleted_at is null and o.enabled)
    and not exists (select 1 from ${t('tb_observer_parked')} p
        where p.observer_id = ${sql.ref(`${k}.observer_id`)} and p.entity_type = ${sql.ref(`${k}.entity_type`)} and p.entity_id = ${sql.ref(`${k}.entity_id`)})
    and (${sql.ref(`${k}.blocking_event_id`)} is null or (
      not exists (select 1 from ${t('tb_observer_retry')} r where r.event_id = ${sql.ref(`${k}.blocking_event_id`)} and r.observer_id = ${sql.ref(`${k}.observer_id`)})
      and not exists (select 1 from ${t('tb_observer_dead_letter')} d where d.event_id = ${sql.ref(`${k}.blocking_event_id`)} and d.observer_id = ${sql.ref(`${k}.observer_id`)})))`
  return await db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ pk: string }>`select k.pk_observer_key::text as pk from ${t('tb_observer_key')} k
       where ${empty('k')} limit ${limit} for update of k skip locked`.execute(trx)
    if (rows.length === 0) return 0
    const result = await sql`delete from ${t('tb_observer_key')} k where k.pk_observer_key = any(${rows.map((r) => r.pk)}::bigint[]) and ${empty('k')}`.execute(trx)
    return Number(result.numAffectedRows ?? 0n)
  })
}

/**
 * Empties the request_payload of up to `limit` log rows created before `days` ago, from `from` on
 * (the created_at a previous batch reached, so that rows emptied already are not read again).
 * Returns how many, and the created_at reached.
 */
export async function emptyOldRequestPayloads (db: Kysely<Database>, schema: string, days: number, from: Date | null, limit: number): Promise<{ emptied: number, reached: Date | null }> {
  const { rows } = await sql<{ n: number, reached: Date | null }>`
    with emptied as (
      update ${sql.id(schema, 'tb_observer_log')} l set request_payload = null
       where l.pk_observer_log in (select pk_observer_log from ${sql.id(schema, 'tb_observer_log')}
                                    where created_at >= ${from ?? new Date(0)} and created_at < ${olderThan(days)}
                                      and request_payload is not null
                                    order by created_at limit ${limit} for update skip locked)
      returning l.created_at)
    select count(*)::int as n, max(created_at) as reached from emptied`.execute(db)
  return { emptied: rows[0].n, reached: rows[0].reached === null ? null : new Date(rows[0].reached) }
}
