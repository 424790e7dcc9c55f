// tb_entity_change_log as operators and outside consumers page it: in the reader's commit order
// (see change-log.repo.ts), so a consumer that pages the log never skips a row that committed late.
import { sql, type Kysely } from 'kysely'
import type { ChangeLogRow } from '../model.js'
import type { Position } from './change-log.repo.js'
import { ownedBy, type TenantScope } from './tenant-scope.js'
import type { Database } from './types.js'

/** A change-log row as served: `id` is the change-log id, `event_id` the row's uuid. */
export type ChangeLogEntry = Omit<ChangeLogRow, 'pk_entity_change_log' | 'id' | 'txid'> & {
  /** the change-log id (checkpoints and dry runs take it) */
  id: string
  event_id: string
}

/** An entry of a page in commit order, with its place in that order. */
export type PagedEntry = ChangeLogEntry & {
  /** `<txid>:<id>`: pass it as after_cursor to read on after this row */
  cursor: string
}

/** A position as a cursor (`<txid>:<id>`). */
export const cursorOf = (p: Position): string => `${p.txid}:${p.id}`

/**
 * Rows after `after` in commit order: (txid, id), only from transactions below the snapshot horizon.
 * Every transaction below it has ended, so no row can later appear before the last row returned;
 * a row whose transaction is still open (or that a later-numbered transaction's row waits behind)
 * is returned once the open transaction ends.
 */
export async function browseChangeLog (
  db: Kysely<Database>, after: Position, limit: number, objectType: string | undefined, scope: TenantScope | undefined
): Promise<{ entries: PagedEntry[], next: string | null }> {
  let q = db.selectFrom('tb_entity_change_log')
    .where(sql<boolean>`(txid, pk_entity_change_log) > (${after.txid}::xid8, ${after.id}::bigint)`)
    .where(sql<boolean>`txid < pg_snapshot_xmin(pg_current_snapshot())`)
  if (objectType !== undefined) q = q.where('object_type', '=', objectType)
  if (scope !== undefined) q = q.where(ownedBy('tenant_id', scope))
  const rows = await q.select([
    sql<string>`pk_entity_change_log::text`.as('id'), sql<string>`id::text`.as('event_id'),
    sql<string>`txid::text || ':' || pk_entity_change_log::text`.as('cursor'),
    'object_type', 'object_id', 'modification_type', 'object_data', 'object_data_before', 'updated_fields',
    'tenant_id', 'user_id', 'trace_id', 'extra_metadata', 'created_at'
  ]).orderBy('txid').orderBy('pk_entity_change_log').limit(limit + 1).execute()
  const entries = rows.slice(0, limit) as PagedEntry[]
  return { entries, next: rows.length > limit ? entries[entries.length - 1].cursor : null }
}

/** One row as the reader would read it (for a dry run), or undefined. */
export async function findChangeLogRow (db: Kysely<Database>, id: string, scope: TenantScope | undefined): Promise<ChangeLogRow | undefined> {
  let q = db.selectFrom('tb_entity_change_log').selectAll()
    .select([sql<string>`pk_entity_change_log::text`.as('pk_entity_change_log'), sql<string>`txid::text`.as('txid')])
    .where('pk_entity_change_log', '=', id)
  if (scope !== undefined) q = q.where(ownedBy('tenant_id', scope))
  return await q.executeTakeFirst() as ChangeLogRow | undefined
}
