// tb_observer_dead_letter: one row per failed action (never per whole event).
import { sql, type Kysely, type Selectable } from 'kysely'
import type { DeadLetterToWrite } from '../model.js'
import type { Database, DeadLetterTable } from './types.js'

export type DeadLetterRow = Selectable<DeadLetterTable>

export interface DeadLetterFilter {
  observer_id?: string
  action_type?: string
  entity_type?: string
  /** confine to one tenant's items (the admin API's tenant scoping) */
  tenant_id?: string | null
}

/** A dead letter as the admin API lists it (without its event and tenant). */
export type DeadLetterItem = Omit<DeadLetterToWrite, 'event' | 'tenant_id'> & { id: string }

export function toDeadLetterItem (row: DeadLetterRow): DeadLetterItem {
  return {
    id: row.id,
    observer_id: row.observer_id,
    observer_name: row.observer_name,
    event_id: row.event_id,
    change_log_id: row.change_log_id === null ? null : String(row.change_log_id),
    entity_type: row.entity_type,
    entity_id: row.entity_id,
    event_type: row.event_type,
    action_index: row.action_index,
    action_type: row.action_type,
    error_code: row.error_code,
    error_message: row.error_message,
    attempts: row.attempts,
    first_failed_at: new Date(row.first_failed_at),
    last_failed_at: new Date(row.last_failed_at)
  }
}

function filtered (db: Kysely<Database>, filter: DeadLetterFilter) {
  let q = db.selectFrom('tb_observer_dead_letter')
  if (filter.observer_id !== undefined) q = q.where('observer_id', '=', filter.observer_id)
  if (filter.action_type !== undefined) q = q.where('action_type', '=', filter.action_type)
  if (filter.entity_type !== undefined) q = q.where('entity_type', '=', filter.entity_type)
  if (filter.tenant_id !== undefined) q = q.where('tenant_id', 'is not distinct from', filter.tenant_id)
  return q
}

/** Newest first, keyset-paginated; the cursor is opaque to clients (the last row's internal id). */
export async function listDeadLetters (db: Kysely<Database>, filter: DeadLetterFilter, limit: number, cursor?: string): Promise<{ data: DeadLetterItem[], next_cursor: string | null }> {
  let q = filtered(db, filter).selectAll()
  if (cursor !== undefined) q = q.where('pk_observer_dead_letter', '<', cursor)
  const rows = await q.orderBy('pk_observer_dead_letter', 'desc').limit(limit + 1).execute()
  const page = rows.slice(0, limit)
  return {
    data: page.map(toDeadLetterItem),
    next_cursor: rows.length > limit ? String(page[page.length - 1].pk_observer_dead_letter) : null
  }
}

export async function getDeadLetter (db: Kysely<Database>, id: string): Promise<DeadLetterRow | undefined> {
  return await db.selectFrom('tb_observer_dead_letter').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function deleteDeadLetter (db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('tb_observer_dead_letter').where('id', '=', id).executeTakeFirst()
  return result.numDeletedRows > 0n
}

/** Discards every dead letter the filter selects; returns how many. */
export async function deleteDeadLetters (db: Kysely<Database>, filter: DeadLetterFilter): Promise<number> {
  const ids = filtered(db, filter).select('pk_observer_dead_letter')
  const result = await db.deleteFrom('tb_observer_dead_letter').where('pk_observer_dead_letter', 'in', ids).executeTakeFirst()
  return Number(result.numDeletedRows)
}

export async function deadLetterStats (db: Kysely<Database>, filter: DeadLetterFilter = {}): Promise<{
  total: number
  by_action_type: Array<{ action_type: string | null, count: number }>
  by_observer: Array<{ observer_id: string | null, observer_name: string | null, count: number }>
}> {
  const byType = await filtered(db, filter).select(['action_type', sql<string>`count(*)::text`.as('n')])
    .groupBy('action_type').orderBy('action_type').execute()
  const byObserver = await filtered(db, filter).select(['observer_id', sql<string | null>`max(observer_name)`.as('observer_name'), sql<string>`count(*)::text`.as('n')])
    .groupBy('observer_id').orderBy(sql`count(*)`, 'desc').execute()
  return {
    total: byType.reduce((sum, r) => sum + Number(r.n), 0),
    by_action_type: byType.map((r) => ({ action_type: r.action_type, count: Number(r.n) })),
    by_observer: byObserver.map((r) => ({ observer_id: r.observer_id, observer_name: r.observer_name, count: Number(r.n) }))
  }
}

/**
 * Claims items for an operator's retry. An item already claimed (and its claim not expired) is
 * skipped, so two concurrent retries of one item run it once.
 */
export async function claimDeadLetters (db: Kysely<Database>, filter: DeadLetterFilter & { id?: string, afterPk?: string }, limit: number, claimMs: number, token: string): Promise<DeadLetterRow[]> {
  return await db.updateTable('tb_observer_dead_letter')
    .set({ retry_claimed_until: sql`now() + make_interval(secs => ${claimMs / 1000})`, retry_claimed_by: token })
    .where('pk_observer_dead_letter', 'in', () => {
      let q = filtered(db, filter).select('pk_observer_dead_letter')
        .where((w) => w.or([w('retry_claimed_until', 'is', null), w('retry_claimed_until', '<', sql<Date>`now()`)]))
      if (filter.id !== undefined) q = q.where('id', '=', filter.id)
      if (filter.afterPk !== undefined) q = q.where('pk_observer_dead_letter', '>', filter.afterPk)
      return q.orderBy('pk_observer_dead_letter').limit(limit).forUpdate().skipLocked()
    })
    .returningAll()
    .execute()
}
