// Direct inserts for runtime tests: observers and change-log rows, as an application would write them.
import type pg from 'pg'

export interface ObserverInput {
  name?: string
  entity_type?: string | null
  event_type?: string | null
  condition_expression?: string | null
  actions: unknown[]
  priority?: number
  retry_config?: unknown
  timeout_ms?: number
  tenant_id?: string | null
  enabled?: boolean
  ordering?: 'none' | 'entity'
  on_dead_letter?: 'skip' | 'block'
}

let counter = 0

export async function insertObserver (pool: pg.Pool | pg.PoolClient, schema: string, input: ObserverInput): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into "${schema}".tb_observer (name, entity_type, event_type, condition_expression, actions, priority, retry_config, timeout_ms, tenant_id, enabled, ordering, on_dead_letter)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning id`,
    [input.name ?? `observer-${++counter}`, input.entity_type ?? null, input.event_type ?? null, input.condition_expression ?? null,
      JSON.stringify(input.actions), input.priority ?? 100, input.retry_config === undefined ? null : JSON.stringify(input.retry_config),
      input.timeout_ms ?? 5000, input.tenant_id ?? null, input.enabled ?? true, input.ordering ?? 'none', input.on_dead_letter ?? 'skip'])
  return rows[0].id
}

/** Inserts `count` change-log rows for entity `type` in one statement; returns their ids. */
export async function insertChanges (db: pg.Pool | pg.PoolClient, schema: string, count: number, type = 'order', data: (i: number) => object = (i) => ({ n: i })): Promise<string[]> {
  const payload = Array.from({ length: count }, (_, i) => JSON.stringify(data(i)))
  const { rows } = await db.query<{ id: string }>(
    `insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
     select $1, (d->>'n'), 'INSERT', d from unnest($2::jsonb[]) as d returning pk_entity_change_log::text as id`,
    [type, payload])
  return rows.map((r) => r.id)
}

export async function countRows (pool: pg.Pool, schema: string, table: string, where = 'true'): Promise<number> {
  const { rows } = await pool.query(`select count(*)::int as n from "${schema}".${table} where ${where}`)
  return rows[0].n
}
