// What a replay job reads: the change-log rows of a window, for one observer, in the reader's
// commit order (txid, id) and only below the snapshot horizon, so the job's cursor never passes a
// row that could still commit behind it (see change-log.repo.ts).
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { ChangeLogRow } from '../model.js'
import type { Position } from './change-log.repo.js'
import type { Database } from './types.js'

/** The window and the observer's own filters, as the job stored them. */
export interface ReplayWindow {
  observer_id: string
  since?: string
  until?: string
  /** rows written after the job was created are the live stream's, not the replay's */
  created_before: string
  after: Position
  to?: Position
  entity_type?: string
  entity_id?: string
  only_failed: boolean
  /** the observer's own filters, narrowing the scan (its condition is evaluated per row) */
  observer_entity_type: string | null
  observer_event_type: string | null
  observer_tenant_id: string | null
}

const t = (schema: string, name: string) => sql.id(schema, name)

/** An action of an event whose last attempt for the observer did not succeed and that no retry is scheduled for. */
function failedActions (schema: string, observerId: string, eventId: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`select last.action_index from (
      select distinct on (l.action_index) l.action_index, l.status from ${t(schema, 'tb_observer_log')} l
       where l.event_id = ${eventId} and l.observer_id = ${observerId}::uuid
       order by l.action_index, l.pk_observer_log desc) last
     where last.status <> 'success'
       and not exists (select 1 from ${t(schema, 'tb_observer_retry')} r
                        where r.event_id = ${eventId} and r.observer_id = ${observerId}::uuid and r.action_index = last.action_index)`
}

function inWindow (schema: string, w: ReplayWindow): RawBuilder<unknown> {
  const parts: Array<RawBuilder<unknown>> = [sql`c.created_at <= ${w.created_before}::timestamptz`]
  if (w.since !== undefined) parts.push(sql`c.created_at >= ${w.since}::timestamptz`)
  if (w.until !== undefined) parts.push(sql`c.created_at < ${w.until}::timestamptz`)
  if (w.to !== undefined) parts.push(sql`(c.txid, c.pk_entity_change_log) <= (${w.to.txid}::xid8, ${w.to.id}::bigint)`)
  if (w.entity_type !== undefined) parts.push(sql`c.object_type = ${w.entity_type}`)
  if (w.entity_id !== undefined) parts.push(sql`c.object_id = ${w.entity_id}`)
  if (w.observer_entity_type !== null && w.observer_entity_type !== '*') parts.push(sql`c.object_type = ${w.observer_entity_type}`)
  if (w.observer_event_type !== null) parts.push(sql`upper(c.modification_type) = ${w.observer_event_type.toUpperCase()}`)
  if (w.observer_tenant_id !== null) parts.push(sql`c.tenant_id = ${w.observer_tenant_id}`)
  if (w.only_failed) parts.push(sql`exists (${failedActions(schema, w.observer_id, sql`c.id`)})`)
  return sql.join(parts, sql` and `)
}

/** How many rows the window holds now (the estimate a dry run answers and a job's total). */
export async function countReplay (db: Kysely<Database>, schema: string, w: ReplayWindow): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::float8 as n from ${t(schema, 'tb_entity_change_log')} c
    where (c.txid, c.pk_entity_change_log) > (${w.after.txid}::xid8, ${w.after.id}::bigint) and ${inWindow(schema, w)}`.execute(db)
  return rows[0].n
}

/**
 * The next rows of the window after `after`, below the horizon; `more` says whether rows of the
 * window wait above it (a transaction still open holds them back) when none are below.
 */
export async function readReplayChunk (db: Kysely<Database>, schema: string, w: ReplayWindow, after: Position, limit: number): Promise<{ rows: ChangeLogRow[], heldBack: boolean }> {
  const { rows } = await sql<ChangeLogRow>`select c.pk_entity_change_log::text as pk_entity_change_log, c.id, c.object_type, c.object_id,
      c.modification_type, c.object_data, c.object_data_before, c.updated_fields, c.tenant_id, c.user_id, c.trace_id,
      c.traceparent, c.tracestate, c.extra_metadata, c.created_at, c.txid::text as txid
    from ${t(schema, 'tb_entity_change_log')} c
   where (c.txid, c.pk_entity_change_log) > (${after.txid}::xid8, ${after.id}::bigint)
     and c.txid < pg_snapshot_xmin(pg_current_snapshot())
     and ${inWindow(schema, w)}
   order by c.txid, c.pk_entity_change_log
   limit ${limit}`.execute(db)
  if (rows.length > 0) return { rows, heldBack: false }
  const { rows: [above] } = await sql<{ held: boolean }>`select exists (select 1 from ${t(schema, 'tb_entity_change_log')} c
     where (c.txid, c.pk_entity_change_log) > (${after.txid}::xid8, ${after.id}::bigint) and ${inWindow(schema, w)}) as held`.execute(db)
  return { rows, heldBack: above.held }
}

/** For a redrive: the actions of these events whose last attempt for the observer failed, as `<event_id>:<action_index>`. */
export async function failedActionsOf (db: Kysely<Database>, schema: string, observerId: string, eventIds: readonly string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set()
  const { rows } = await sql<{ key: string }>`select e.id::text || ':' || f.action_index as key
    from unnest(${eventIds}::uuid[]) as e(id) cross join lateral (${failedActions(schema, observerId, sql`e.id`)}) f`.execute(db)
  return new Set(rows.map((r) => r.key))
}

/** The keys among these that an ordered observer holds now (their replayed events park behind them). */
export async function heldKeysOf (db: Kysely<Database>, schema: string, observerId: string, keys: ReadonlyArray<{ entity_type: string, entity_id: string }>): Promise<Set<string>> {
  if (keys.length === 0) return new Set()
  const { rows } = await sql<{ entity_type: string, entity_id: string }>`select k.entity_type, k.entity_id from ${t(schema, 'tb_observer_key')} k
    join unnest(${keys.map((k) => k.entity_type)}::text[], ${keys.map((k) => k.entity_id)}::text[]) as x(entity_type, entity_id)
      on k.entity_type = x.entity_type and k.entity_id = x.entity_id
   where k.observer_id = ${observerId}::uuid`.execute(db)
  return new Set(rows.map((r) => `${r.entity_type}\u0000${r.entity_id}`))
}
