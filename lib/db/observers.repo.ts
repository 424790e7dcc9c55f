// tb_observer: definitions of what to run.
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely'
import type { ModificationType, Observer, RetryConfig } from '../model.js'
import { ownedBy, visibleTo, type TenantScope } from './tenant-scope.js'
import type { Database, ObserverTable } from './types.js'

export type ObserverRow = Selectable<ObserverTable>

/** An observer as stored and as the API serves it. */
export interface StoredObserver extends Observer {
  /** why the runtime disabled it (an endpoint disabled, SPEC 9.3); null otherwise, and cleared by any enable */
  disabled_reason: string | null
}

export function toObserver (row: ObserverRow): StoredObserver {
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
    ordering: row.ordering,
    on_dead_letter: row.on_dead_letter,
    disabled_reason: row.disabled_reason,
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

/** Live observers by id, enabled or not (stored deliveries run again with the current definition). */
export async function findLiveObservers (db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, Observer>> {
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('tb_observer').selectAll()
    .where('id', 'in', ids).where('deleted_at', 'is', null)
    .execute()
  return new Map(rows.map((row) => [row.id, toObserver(row)]))
}

/** Observers by id as stored: deleted and disabled ones too (a stored delivery says why it no longer runs). */
export async function findObserversById (db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, StoredObserver>> {
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('tb_observer').selectAll().where('id', 'in', ids).execute()
  return new Map(rows.map((row) => [row.id, toObserver(row)]))
}

// ---- the admin API's reads and writes ----

export interface ObserverListFilter {
  entity_type?: string
  /** upper-case */
  event_type?: string
  enabled?: boolean
  include_deleted?: boolean
}

export type ObserverValues = Omit<Insertable<ObserverTable>, 'pk_observer' | 'id' | 'created_at' | 'updated_at' | 'deleted_at'>
export type ObserverChanges = Partial<Omit<ObserverValues, 'created_by'>>

/** The insert or update hit the unique index of live names (per tenant). */
export const NAME_TAKEN = 'name_taken' as const

function isNameTaken (err: unknown): boolean {
  const e = err as { code?: string, constraint?: string }
  return e.code === '23505' && e.constraint === 'tb_observer_live_name'
}

function jsonColumns<T extends Partial<ObserverValues>> (values: T): T {
  const out: Record<string, unknown> = { ...values }
  if (values.actions !== undefined) out.actions = JSON.stringify(values.actions)
  if (values.retry_config !== undefined) out.retry_config = values.retry_config === null ? null : JSON.stringify(values.retry_config)
  return out as T
}

/** A live observer the scope may read (its own or a global one), or undefined. */
export async function findVisibleObserver (db: Kysely<Database>, id: string, scope: TenantScope | undefined): Promise<StoredObserver | undefined> {
  let q = db.selectFrom('tb_observer').selectAll().where('id', '=', id).where('deleted_at', 'is', null)
  if (scope !== undefined) q = q.where(visibleTo('tenant_id', scope))
  const row = await q.executeTakeFirst()
  return row === undefined ? undefined : toObserver(row)
}

/** Whether the observer (deleted or not) exists and its execution history is the scope's to read. */
export async function ownsObserverHistory (db: Kysely<Database>, id: string, scope: TenantScope | undefined): Promise<'owned' | 'global' | 'unknown'> {
  const row = await db.selectFrom('tb_observer').select('tenant_id').where('id', '=', id).executeTakeFirst()
  if (row === undefined) return 'unknown'
  if (scope === undefined || row.tenant_id === scope.tenant) return 'owned'
  return row.tenant_id === null ? 'global' : 'unknown'
}

export async function insertObserver (db: Kysely<Database>, values: ObserverValues): Promise<StoredObserver | typeof NAME_TAKEN> {
  try {
    const row = await db.insertInto('tb_observer').values(jsonColumns(values)).returningAll().executeTakeFirstOrThrow()
    return toObserver(row)
  } catch (err) {
    if (isNameTaken(err)) return NAME_TAKEN
    throw err
  }
}

/** Updates a live observer the scope owns; undefined when there is none. Enabling it clears its disabled_reason. */
export async function updateObserver (
  db: Kysely<Database>, id: string, changes: ObserverChanges, scope: TenantScope | undefined
): Promise<StoredObserver | undefined | typeof NAME_TAKEN> {
  const reason = changes.enabled === true ? { disabled_reason: null } : {}
  let q = db.updateTable('tb_observer').set({ ...jsonColumns(changes), ...reason, updated_at: sql`now()` })
    .where('id', '=', id).where('deleted_at', 'is', null)
  if (scope !== undefined) q = q.where(ownedBy('tenant_id', scope))
  try {
    const row = await q.returningAll().executeTakeFirst()
    return row === undefined ? undefined : toObserver(row)
  } catch (err) {
    if (isNameTaken(err)) return NAME_TAKEN
    throw err
  }
}

/** Soft delete (the name becomes free again); false when there was no live observer the scope owns. */
export async function softDeleteObserver (db: Kysely<Database>, id: string, scope: TenantScope | undefined, deletedBy: string | null): Promise<boolean> {
  let q = db.updateTable('tb_observer')
    .set({ deleted_at: sql`now()`, updated_at: sql`now()`, updated_by: deletedBy })
    .where('id', '=', id).where('deleted_at', 'is', null)
  if (scope !== undefined) q = q.where(ownedBy('tenant_id', scope))
  const result = await q.executeTakeFirst()
  return result.numUpdatedRows > 0n
}
