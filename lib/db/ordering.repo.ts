// tb_observer_key and tb_observer_parked: the keys of ordered observers that wait for a delivery to
// resolve, and the events parked behind them (see migrations/007-ordered-delivery.ts).
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Slice } from './change-log.repo.js'
import { partitionOf } from './partitions.repo.js'
import type { Database } from './types.js'

export interface Key { observer_id: string, entity_type: string, entity_id: string }

/** A parked event as the release worker reads it (the event is checked before it is used). */
export interface ParkedRow { pk_observer_parked: string, event_id: string, change_log_id: string | null, event: unknown }

/** Every held key (the reader keeps them in memory: an event of a held key is parked, not run), read in pages. */
export async function loadHeldKeys (db: Kysely<Database>, pageSize = 10_000, slice?: Slice): Promise<Key[]> {
  const keys: Key[] = []
  let after = '0'
  for (;;) {
    const page = await db.selectFrom('tb_observer_key').select(['pk_observer_key', 'observer_id', 'entity_type', 'entity_id'])
      .where('pk_observer_key', '>', after)
      .$if(slice !== undefined, (q) => q.where(sql.raw(partitionOf(slice?.count ?? 1, 'entity_type', 'entity_id')), '=', slice?.index ?? 0))
      .orderBy('pk_observer_key').limit(pageSize).execute()
    for (const row of page) keys.push({ observer_id: row.observer_id, entity_type: row.entity_type, entity_id: row.entity_id })
    if (page.length < pageSize) return keys
    after = page[page.length - 1].pk_observer_key
  }
}

/** A held key whose blocking delivery has resolved, with the oldest event parked behind it (if any). */
export interface ReleasableKey extends Key {
  /** false: the observer was deleted, and what is parked for it is dropped */
  observer_live: boolean
  parked: ParkedRow | null
}

// A parked event of the key waits for a change of it made earlier and not read yet: until the
// listener's checkpoint has passed that row, or the row is in its ahead-ledger (read beyond a stuck
// horizon), the key is not released. Without the listener's checkpoint, nothing waits.
const waitingForUnread = (schema: string) => sql`
  select 1 from ${sql.id(schema, 'tb_observer_parked')} w
    join ${sql.id(schema, 'observer_checkpoints')} cp on cp.listener_id = w.waits_for_listener
   where w.observer_id = k.observer_id and w.entity_type = k.entity_type and w.entity_id = k.entity_id
     and (cp.last_txid, cp.last_change_log_id) < (w.waits_for_txid, w.waits_for_change_log_id)
     and not exists (select 1 from ${sql.id(schema, 'tb_change_log_ahead')} a
                      where a.listener_id = w.waits_for_listener and a.change_log_id = w.waits_for_change_log_id)`

/**
 * Held keys whose blocking delivery has resolved: no retry of it is scheduled, and no dead letter
 * of it holds the key (`on_dead_letter = 'block'`), and no parked event waits for an earlier-made
 * change the listener has not read. Keys of a disabled observer wait. The oldest parked event is
 * the one with the lowest change-log id: the order the key's changes were made.
 */
export async function releasableKeys (db: Kysely<Database>, schema: string, limit: number, slice?: Slice): Promise<ReleasableKey[]> {
  const { rows } = await releasableKeysQuery(schema, limit, slice).execute(db)
  return rows
}

/** The statement releasableKeys() runs (its plan is checked in test/db/release-plan.test.ts). */
export function releasableKeysQuery (schema: string, limit: number, slice?: Slice): RawBuilder<ReleasableKey> {
  const t = (table: string) => sql.id(schema, table)
  const inSlice = slice === undefined ? sql`` : sql`and ${sql.raw(partitionOf(slice.count, 'k.entity_type', 'k.entity_id'))} = ${slice.index}`
  return sql<ReleasableKey>`
    select k.observer_id, k.entity_type, k.entity_id, (o.id is not null) as observer_live, to_jsonb(p) as parked
      from ${t('tb_observer_key')} k
      left join ${t('tb_observer')} o on o.id = k.observer_id and o.deleted_at is null
      left join lateral (select pk_observer_parked::text as pk_observer_parked, event_id, change_log_id::text as change_log_id, event
                           from ${t('tb_observer_parked')} p
                          where p.observer_id = k.observer_id and p.entity_type = k.entity_type and p.entity_id = k.entity_id
                          order by p.change_log_id, p.pk_observer_parked limit 1) p on true
     where k.releasable and (o.id is null or o.enabled) ${inSlice}
       and not exists (select 1 from ${t('tb_observer_retry')} r where r.event_id = k.blocking_event_id and r.observer_id = k.observer_id)
       and not (coalesce(o.on_dead_letter, 'skip') = 'block' and exists (
             select 1 from ${t('tb_observer_dead_letter')} d where d.event_id = k.blocking_event_id and d.observer_id = k.observer_id))
       and not exists (${waitingForUnread(schema)})
     order by k.pk_observer_key
     limit ${limit}`
}

/** Frees a key once nothing is parked behind it; false when something was parked meanwhile. */
export async function freeKeyIfEmpty (db: Kysely<Database>, key: Key): Promise<boolean> {
  const result = await db.deleteFrom('tb_observer_key')
    .where('observer_id', '=', key.observer_id).where('entity_type', '=', key.entity_type).where('entity_id', '=', key.entity_id)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('tb_observer_parked as p').select(sql`1`.as('one'))
      .whereRef('p.observer_id', '=', 'tb_observer_key.observer_id')
      .whereRef('p.entity_type', '=', 'tb_observer_key.entity_type')
      .whereRef('p.entity_id', '=', 'tb_observer_key.entity_id'))))
    .executeTakeFirst()
  return result.numDeletedRows > 0n
}

export interface BlockedKey {
  entity_type: string
  entity_id: string
  blocked_since: Date
  parked_count: number
  blocking: {
    event_id: string | null
    change_log_id: string | null
    /** attempts made so far of the blocking delivery (its most tried action) */
    attempts: number
    next_retry_at: Date | null
    dead_letter_id: string | null
  }
}

/** An observer's held keys, oldest first, keyset-paginated by the key's internal id. */
export async function listBlockedKeys (db: Kysely<Database>, schema: string, observerId: string, limit: number, cursor?: string): Promise<{ data: BlockedKey[], next_cursor: string | null }> {
  const t = (table: string) => sql.id(schema, table)
  const { rows } = await sql<{ pk: string, entity_type: string, entity_id: string, blocked_since: Date, parked_count: string, event_id: string | null, change_log_id: string | null, retry_attempt: number | null, next_retry_at: Date | null, dead_letter_id: string | null, dead_letter_attempts: number | null }>`
    select k.pk_observer_key::text as pk, k.entity_type, k.entity_id, k.blocked_since,
           (select count(*) from ${t('tb_observer_parked')} p
             where p.observer_id = k.observer_id and p.entity_type = k.entity_type and p.entity_id = k.entity_id)::text as parked_count,
           k.blocking_event_id as event_id, k.blocking_change_log_id::text as change_log_id,
           r.retry_attempt, r.next_retry_at, d.dead_letter_id, d.dead_letter_attempts
      from ${t('tb_observer_key')} k
      left join lateral (select max(attempt_number) as retry_attempt, min(due_at) as next_retry_at from ${t('tb_observer_retry')}
                          where event_id = k.blocking_event_id and observer_id = k.observer_id) r on true
      left join lateral (select id as dead_letter_id, attempts as dead_letter_attempts from ${t('tb_observer_dead_letter')}
                          where event_id = k.blocking_event_id and observer_id = k.observer_id
                          order by attempts desc limit 1) d on true
     where k.observer_id = ${observerId} and k.pk_observer_key > ${cursor ?? '0'}
     order by k.pk_observer_key
     limit ${limit + 1}`.execute(db)
  const page = rows.slice(0, limit)
  return {
    data: page.map((row) => ({
      entity_type: row.entity_type,
      entity_id: row.entity_id,
      blocked_since: new Date(row.blocked_since),
      parked_count: Number(row.parked_count),
      blocking: {
        event_id: row.event_id,
        change_log_id: row.change_log_id,
        // a scheduled retry holds the attempt about to run
        attempts: Math.max(row.retry_attempt === null ? 0 : row.retry_attempt - 1, row.dead_letter_attempts ?? 0),
        next_retry_at: row.next_retry_at === null ? null : new Date(row.next_retry_at),
        dead_letter_id: row.dead_letter_id
      }
    })),
    next_cursor: rows.length > limit ? page[page.length - 1].pk : null
  }
}
