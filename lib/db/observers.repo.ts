// tb_observer: definitions of what to run.
import type { Kysely, Selectable } from 'kysely'
import type { ModificationType, Observer, RetryConfig } from '../model.js'
import type { Database, ObserverTable } from './types.js'

export type ObserverRow = Selectable<ObserverTable>

export function toObserver (row: ObserverRow): Observer {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    entity_type: row.entity_type,
    event_type: row.event_type as ModificationType | null,
    condition_expression: row.condition_expression,
    actions: row.actions,
    enabled: row.enabled,
    priority: row.priority,
    retry_config: row.retry_config as RetryConfig | null,
    timeout_ms: row.timeout_ms,
    tenant_id: row.tenant_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
    created_by: row.created_by,
    updated_by: row.updated_by,
    deleted_at: row.deleted_at
  }
}

/** The observers the runtime matches against: live and enabled. */
export async function loadActiveObservers (db: Kysely<Database>): Promise<Observer[]> {
  const rows = await db.selectFrom('tb_observer').selectAll()
    .where('deleted_at', 'is', null)
    .where('enabled', '=', true)
    .orderBy('priority').orderBy('created_at')
    .execute()
  return rows.map(toObserver)
}

/** One live observer by id, enabled or not (retries of dead letters use the current definition). */
export async function findLiveObserver (db: Kysely<Database>, id: string): Promise<Observer | undefined> {
  const row = await db.selectFrom('tb_observer').selectAll()
    .where('id', '=', id).where('deleted_at', 'is', null)
    .executeTakeFirst()
  return row === undefined ? undefined : toObserver(row)
}
