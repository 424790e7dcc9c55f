// tb_entity_change_log as operators browse it (the reader's commit-order access is change-log.repo.ts).
import { sql, type Kysely } from 'kysely'
import type { ChangeLogRow } from '../model.js'
import { ownedBy, type TenantScope } from './tenant-scope.js'
import type { Database } from './types.js'

/** A change-log row as served: `id` is the change-log id (the cursor), `event_id` the row's uuid. */
export type ChangeLogEntry = Omit<ChangeLogRow, 'pk_entity_change_log' | 'id' | 'txid'> & {
  /** the change-log id: the cursor of this listing and of checkpoints */
  id: string
  event_id: string
}

/** Rows with an id above `afterId`, in id order (not commit order: this is a browse, not a reader). */
export async function browseChangeLog (
  db: Kysely<Database>, afterId: string, limit: number, objectType: string | undefined, scope: TenantScope | undefined
): Promise<{ entries: ChangeLogEntry[], next: string | null }> {
  let q = db.selectFrom('tb_entity_change_log').where('pk_entity_change_log', '>', afterId)
  if (objectType !== undefined) q = q.where('object_type', '=', objectType)
  if (scope !== undefined) q = q.where(ownedBy('tenant_id', scope))
  const rows = await q.select([
    sql<string>`pk_entity_change_log::text`.as('id'), sql<string>`id::text`.as('event_id'),
    'object_type', 'object_id', 'modification_type', 'object_data', 'object_data_before', 'updated_fields',
    'tenant_id', 'user_id', 'trace_id', 'extra_metadata', 'created_at'
  ]).orderBy('pk_entity_change_log').limit(limit + 1).execute()
  const entries = rows.slice(0, limit) as ChangeLogEntry[]
  return { entries, next: rows.length > limit ? entries[entries.length - 1].id : null }
}

/** One row as the reader would read it (for a dry run), or undefined. */
export async function findChangeLogRow (db: Kysely<Database>, id: string, scope: TenantScope | undefined): Promise<ChangeLogRow | undefined> {
  let q = db.selectFrom('tb_entity_change_log').selectAll()
    .select([sql<string>`pk_entity_change_log::text`.as('pk_entity_change_log'), sql<string>`txid::text`.as('txid')])
    .where('pk_entity_change_log', '=', id)
  if (scope !== undefined) q = q.where(ownedBy('tenant_id', scope))
  return await q.executeTakeFirst() as ChangeLogRow | undefined
}
