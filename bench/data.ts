// The bench's own SQL: bulk rows written the way an application (or a long outage) would leave
// them, and the read-only checks a scenario makes. Server-side generate_series keeps the bench
// process's memory flat while it writes hundreds of thousands of rows.
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { now } from './clock.js'

/** One order as object_data; `g` is the row number. The JS twin below has the same shape. */
const ORDER_SQL = `jsonb_build_object('n', g, 'status', 'paid', 'total', round(((g % 1000) * 1.5)::numeric, 2),
  'currency', 'EUR', 'customer', jsonb_build_object('id', 'c-' || (g % 5000), 'tier', (array['gold', 'silver', 'bronze'])[1 + g % 3]),
  'items', 1 + g % 5)`

export function sampleOrder (n: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    n,
    status: 'paid',
    total: Math.round((n % 1000) * 150) / 100,
    currency: 'EUR',
    customer: { id: `c-${n % 5000}`, tier: ['gold', 'silver', 'bronze'][n % 3] },
    items: 1 + (n % 5),
    ...extra
  }
}

export interface Position { txid: string, id: string }

const q = (schema: string, table: string): string => `"${schema}".${table}`

/**
 * `count` rows of entity `order`, `chunk` per statement (each its own transaction): every row its
 * own entity, or with `keys`, row g updates entity g % keys (so each entity gets count / keys events).
 * Rows are numbered from `from` (1): a later call continues with new entities. On a client inside
 * a transaction, they become visible together at its commit.
 */
export async function insertChangeLog (pool: pg.Pool | pg.PoolClient, schema: string, count: number, { chunk = 5000, keys, from = 1 }: { chunk?: number, keys?: number, from?: number } = {}): Promise<void> {
  const end = from + count - 1
  for (let first = from; first <= end; first += chunk) {
    const last = Math.min(end, first + chunk - 1)
    await pool.query(`insert into ${q(schema, 'tb_entity_change_log')} (object_type, object_id, modification_type, object_data)
      select 'order', (case when $3::int is null then g else g % $3::int end)::text, 'INSERT', ${ORDER_SQL}
        from generate_series($1::int, $2::int) g`, [first, last, keys ?? null])
  }
}

export interface ObserverRows {
  count: number
  url: string
  /** null: every entity type (fan-out); otherwise spread over a few types (admin) */
  entityTypes: string[] | null
  retryConfig?: object
  timeoutMs?: number
  /** 'entity': ordered delivery per entity */
  ordering?: 'none' | 'entity'
  /** more fields of the webhook action, e.g. `rate_limit` */
  action?: Record<string, unknown>
  /** every observer's actions instead of the webhook to `url` (the nats scenario) */
  actions?: Array<Record<string, unknown>>
  /** observer names are `<namePrefix>-<n>`, unique among the schema's observers ('bench') */
  namePrefix?: string
}

/** `count` observers with one webhook action each, in one statement; returns their ids in creation order. */
export async function insertObservers (pool: pg.Pool, schema: string, rows: ObserverRows): Promise<string[]> {
  const { rows: ids } = await pool.query<{ id: string }>(
    `insert into ${q(schema, 'tb_observer')} (name, entity_type, actions, priority, retry_config, timeout_ms, ordering)
     select $8 || '-' || g, ($2::text[])[1 + g % greatest(coalesce(array_length($2::text[], 1), 1), 1)],
            coalesce($9::jsonb, jsonb_build_array(jsonb_build_object('type', 'webhook', 'url', $3::text) || $7::jsonb)),
            100 + g % 10, $4::jsonb, $5, $6
       from generate_series(1, $1::int) g
     returning id`,
    [rows.count, rows.entityTypes, rows.url, rows.retryConfig === undefined ? null : JSON.stringify(rows.retryConfig), rows.timeoutMs ?? 5000, rows.ordering ?? 'none',
      JSON.stringify(rows.action ?? {}), rows.namePrefix ?? 'bench', rows.actions === undefined ? null : JSON.stringify(rows.actions)])
  return ids.map((r) => r.id)
}

/** The last change-log row in commit order: where the checkpoint ends when everything is read. */
export async function changeLogHead (pool: pg.Pool, schema: string): Promise<Position | null> {
  // order by the columns, not the text aliases of the same names ('999' > '2765')
  const { rows } = await pool.query<Position>(`select c.txid::text as txid, c.pk_entity_change_log::text as id
    from ${q(schema, 'tb_entity_change_log')} c order by c.txid desc, c.pk_entity_change_log desc limit 1`)
  return rows[0] ?? null
}

export async function readCheckpoint (pool: pg.Pool, schema: string, listenerId = 'default'): Promise<Position | null> {
  const { rows } = await pool.query<Position>(`select last_txid::text as txid, last_change_log_id::text as id
    from ${q(schema, 'observer_checkpoints')} where listener_id = $1`, [listenerId])
  return rows[0] ?? null
}

export function samePosition (a: Position | null, b: Position | null): boolean {
  return a !== null && b !== null && a.txid === b.txid && a.id === b.id
}

/** Whether `a` is at `b` or past it in commit order (rows written after `b` may have moved it on). */
export function atOrPast (a: Position | null, b: Position | null): boolean {
  if (a === null || b === null) return false
  const [at, bt] = [BigInt(a.txid), BigInt(b.txid)]
  return at > bt || (at === bt && BigInt(a.id) >= BigInt(b.id))
}

/** Retries pending, of every observer or of `observers` only. */
export async function retriesPending (pool: pg.Pool, schema: string, observers?: readonly string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from ${q(schema, 'tb_observer_retry')}
    where $1::uuid[] is null or observer_id = any($1::uuid[])`, [observers ?? null])
  return rows[0].n
}

export interface DbOutcome {
  logs_success: number
  logs_failed: number
  logs_other: number
  retries_pending: number
  dead_letters: number
}

export interface EndpointRow {
  state: string
  /** epoch ms */
  opened_at: number | null
  next_probe_at: number | null
  cool_down_ms: number
}

/** An endpoint's shared circuit state (tb_observer_endpoint), or null while it has none. */
export async function endpointRow (pool: pg.Pool, schema: string, endpoint: string): Promise<EndpointRow | null> {
  const { rows } = await pool.query<EndpointRow>(`select state, (extract(epoch from opened_at) * 1000)::float8 as opened_at,
      (extract(epoch from next_probe_at) * 1000)::float8 as next_probe_at, cool_down_ms
    from ${q(schema, 'tb_observer_endpoint')} where endpoint = $1`, [endpoint])
  return rows[0] ?? null
}

/** Keys held by ordered observers and the events parked behind them. */
export async function heldKeys (pool: pg.Pool, schema: string): Promise<{ keys: number, parked: number }> {
  const { rows } = await pool.query<{ keys: number, parked: number }>(`select (select count(*) from ${q(schema, 'tb_observer_key')})::int as keys,
    (select count(*) from ${q(schema, 'tb_observer_parked')})::int as parked`)
  return rows[0]
}

/** What the database holds of the deliveries, of every observer or of `observers` only. */
export async function dbOutcome (pool: pg.Pool, schema: string, observers?: readonly string[]): Promise<DbOutcome> {
  const only = [observers ?? null]
  const { rows: [logs] } = await pool.query<{ success: number, failed: number, other: number }>(`select
      count(*) filter (where status = 'success')::int as success,
      count(*) filter (where status in ('failed', 'timeout'))::int as failed,
      count(*) filter (where status not in ('success', 'failed', 'timeout'))::int as other
    from ${q(schema, 'tb_observer_log')} where $1::uuid[] is null or observer_id = any($1::uuid[])`, only)
  const { rows: [dead] } = await pool.query<{ n: number }>(`select count(*)::int as n from ${q(schema, 'tb_observer_dead_letter')}
    where $1::uuid[] is null or observer_id = any($1::uuid[])`, only)
  return { logs_success: logs.success, logs_failed: logs.failed, logs_other: logs.other, retries_pending: await retriesPending(pool, schema, observers), dead_letters: dead.n }
}

/**
 * Sum of the first 32 bits of md5(event id) over the change log (the bench's `order` rows, not the
 * runtime's own `observers.endpoint` announcements): the sink computes the same over what it got.
 */
export async function changeLogChecksum (pool: pg.Pool, schema: string): Promise<number> {
  const { rows } = await pool.query<{ sum: string | null }>(`select sum(('x' || lpad(left(md5(id::text), 8), 16, '0'))::bit(64)::bigint)::text as sum
    from ${q(schema, 'tb_entity_change_log')} where object_type = 'order'`)
  return Number(rows[0].sum ?? 0)
}

export async function dropSchema (pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`drop schema if exists "${schema}" cascade`)
}

/** Flushes dirty pages before a measured phase, so a checkpoint the load phase caused does not land in it. */
export async function flushDatabase (pool: pg.Pool): Promise<void> {
  await pool.query('checkpoint').catch(() => {})
}

/** Polls `check` every `everyMs` until it returns true; resolves with the time it first did. */
export async function waitUntil (check: () => Promise<boolean>, what: string, timeoutMs: number, everyMs = 10): Promise<number> {
  const until = now() + timeoutMs
  for (;;) {
    if (await check()) return now()
    if (now() > until) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`)
    await sleep(everyMs)
  }
}
