// tb_observer_log as the admin API reads it: newest first, keyset-paginated on the primary key.
// Every filter has an index ending in the pk (migration 001), so a filtered page is one index range scan.
import { sql, type Kysely, type Selectable } from 'kysely'
import { ownedBy, type TenantScope } from './tenant-scope.js'
import type { Database, ObserverLogTable } from './types.js'

export interface LogFilter {
  observer_id?: string
  status?: string
  event_id?: string
  entity_type?: string
  entity_id?: string
  trace_id?: string
  since?: Date
  until?: Date
}

/** An attempt as served: the table's row with its id as text. */
export type LogEntry = Omit<Selectable<ObserverLogTable>, 'pk_observer_log' | 'change_log_id'> & {
  id: string
  change_log_id: string | null
}

/**
 * One page of attempts, newest first, strictly older than `beforeId` when given. With a scope,
 * only the attempts of observers the tenant owns: a global observer's log spans every tenant.
 */
export async function listLogs (
  db: Kysely<Database>, filter: LogFilter, scope: TenantScope | undefined, limit: number, beforeId?: string
): Promise<{ data: LogEntry[], next: string | null }> {
  let q = db.selectFrom('tb_observer_log')
  if (filter.observer_id !== undefined) q = q.where('observer_id', '=', filter.observer_id)
  if (filter.status !== undefined) q = q.where('status', '=', filter.status)
  if (filter.event_id !== undefined) q = q.where('event_id', '=', filter.event_id)
  if (filter.entity_type !== undefined) q = q.where('entity_type', '=', filter.entity_type)
  if (filter.entity_id !== undefined) q = q.where('entity_id', '=', filter.entity_id)
  if (filter.trace_id !== undefined) q = q.where('trace_id', '=', filter.trace_id)
  if (filter.since !== undefined) q = q.where('created_at', '>=', filter.since)
  if (filter.until !== undefined) q = q.where('created_at', '<', filter.until)
  if (beforeId !== undefined) q = q.where('pk_observer_log', '<', beforeId)
  if (scope !== undefined) {
    q = q.where('observer_id', 'in', db.selectFrom('tb_observer').select('id').where(ownedBy('tenant_id', scope)))
  }
  const rows = await q.select([
    sql<string>`pk_observer_log::text`.as('id'),
    'observer_id', 'event_id', sql<string | null>`change_log_id::text`.as('change_log_id'), 'entity_type', 'entity_id',
    'event_type', 'action_index', 'action_type', 'status', 'attempt_number', 'max_attempts', 'next_retry_at',
    'started_at', 'completed_at', 'duration_ms', 'error_code', 'error_message', 'response_status_code',
    'response_payload', 'request_payload', 'trace_id', 'created_at'
  ]).orderBy('pk_observer_log', 'desc').limit(limit + 1).execute()
  const data: LogEntry[] = rows.slice(0, limit)
  return { data, next: rows.length > limit ? data[data.length - 1].id : null }
}
