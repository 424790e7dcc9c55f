// The newest change-log rows, for the console's dry run against recent real events.
import { sql, type Kysely } from 'kysely'
import type { ChangeLogEntry } from './changelog-browse.repo.js'
import { ownedBy, type TenantScope } from './tenant-scope.js'
import type { Database } from './types.js'

/** Up to `limit` rows, newest (highest id) first; walks the primary key backwards. */
export async function recentChanges (db: Kysely<Database>, limit: number, objectType: string | undefined, scope: TenantScope | undefined): Promise<ChangeLogEntry[]> {
  let q = db.selectFrom('tb_entity_change_log')
  if (objectType !== undefined) q = q.where('object_type', '=', objectType)
  if (scope !== undefined) q = q.where(ownedBy('tenant_id', scope))
  return await q.select([
    sql<string>`pk_entity_change_log::text`.as('id'), sql<string>`id::text`.as('event_id'),
    'object_type', 'object_id', 'modification_type', 'object_data', 'object_data_before', 'updated_fields',
    'tenant_id', 'user_id', 'trace_id', 'extra_metadata', 'created_at'
  ]).orderBy('pk_entity_change_log', 'desc').limit(limit).execute() as ChangeLogEntry[]
}
