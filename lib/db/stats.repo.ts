// Aggregates for the admin API: per-observer execution statistics and the delivery summary.
// Each is one SQL statement, whatever the number of observers.
import { sql, type Kysely } from 'kysely'
import type { Position } from './change-log.repo.js'
import { ownedBy, type TenantScope } from './tenant-scope.js'
import type { Database } from './types.js'

export interface ObserverStats {
  observer_id: string
  name: string
  total: number
  success: number
  failed: number
  timeout: number
  skipped: number
  dead_letters: number
  /** success / (success + failed + timeout); null before any finished attempt */
  success_rate: number | null
  avg_duration_ms: number | null
  p95_duration_ms: number | null
  last_run_at: Date | null
}

interface StatsRow {
  observer_id: string
  name: string
  total: string | null
  success: string | null
  failed: string | null
  timeout: string | null
  skipped: string | null
  dead_letters: string | null
  avg_duration_ms: number | null
  p95_duration_ms: number | null
  last_run_at: Date | null
}

function toStats (row: StatsRow): ObserverStats {
  const n = (v: string | null): number => v === null ? 0 : Number(v)
  const finished = n(row.success) + n(row.failed) + n(row.timeout)
  const round = (v: number | null): number | null => v === null ? null : Math.round(Number(v) * 100) / 100
  return {
    observer_id: row.observer_id,
    name: row.name,
    total: n(row.total),
    success: n(row.success),
    failed: n(row.failed),
    timeout: n(row.timeout),
    skipped: n(row.skipped),
    dead_letters: n(row.dead_letters),
    success_rate: finished === 0 ? null : Math.round((n(row.success) / finished) * 10_000) / 10_000,
    avg_duration_ms: round(row.avg_duration_ms),
    p95_duration_ms: round(row.p95_duration_ms),
    last_run_at: row.last_run_at
  }
}

/**
 * Statistics of the live observers the scope owns (or of one observer, deleted or not), ordered
 * like the observer list. `since` bounds the attempts counted and the dead letters (by last failure).
 */
export async function observerStats (
  db: Kysely<Database>, options: { observerId?: string, since?: Date, scope?: TenantScope }
): Promise<ObserverStats[]> {
  const { observerId, since, scope } = options
  let logs = db.selectFrom('tb_observer_log').select([
    'observer_id',
    sql<string>`count(*)::text`.as('total'),
    sql<string>`(count(*) filter (where status = 'success'))::text`.as('success'),
    sql<string>`(count(*) filter (where status = 'failed'))::text`.as('failed'),
    sql<string>`(count(*) filter (where status = 'timeout'))::text`.as('timeout'),
    sql<string>`(count(*) filter (where status = 'skipped'))::text`.as('skipped'),
    sql<number | null>`avg(duration_ms)::float8`.as('avg_duration_ms'),
    sql<number | null>`percentile_cont(0.95) within group (order by duration_ms)`.as('p95_duration_ms'),
    sql<Date | null>`max(started_at)`.as('last_run_at')
  ]).groupBy('observer_id')
  let dead = db.selectFrom('tb_observer_dead_letter')
    .select(['observer_id', sql<string>`count(*)::text`.as('dead_letters')]).groupBy('observer_id')
  if (observerId !== undefined) {
    logs = logs.where('observer_id', '=', observerId)
    dead = dead.where('observer_id', '=', observerId)
  }
  if (since !== undefined) {
    logs = logs.where('created_at', '>=', since)
    dead = dead.where('last_failed_at', '>=', since)
  }
  let q = db.selectFrom('tb_observer as o')
    .leftJoin(logs.as('l'), 'l.observer_id', 'o.id')
    .leftJoin(dead.as('d'), 'd.observer_id', 'o.id')
    .select([
      'o.id as observer_id', 'o.name', 'l.total', 'l.success', 'l.failed', 'l.timeout', 'l.skipped',
      'l.avg_duration_ms', 'l.p95_duration_ms', 'l.last_run_at', 'd.dead_letters'
    ])
  if (observerId !== undefined) q = q.where('o.id', '=', observerId)
  else q = q.where('o.deleted_at', 'is', null)
  // a tenant sees the statistics of its own observers: a global observer's attempts span every tenant
  if (scope !== undefined) q = q.where(ownedBy('o.tenant_id', scope))
  const rows = await q.orderBy('o.priority').orderBy('o.created_at').orderBy('o.pk_observer').execute()
  return rows.map((r) => toStats(r as StatsRow))
}

export interface DeliverySummary {
  retries_scheduled: number
  retries_due: number
  next_retry_at: Date | null
  dead_letters: number
  /** when the oldest delivery still owed became owed: the oldest unread change-log row or the first failure of the oldest retry */
  oldest_pending_at: Date | null
}

/** The delivery summary of one listener, in one statement. */
export async function deliverySummary (db: Kysely<Database>, position: Position): Promise<DeliverySummary> {
  const row = await db.selectNoFrom((eb) => [
    eb.selectFrom('tb_observer_retry').select(sql<string>`count(*)::text`.as('n')).as('retries_scheduled'),
    eb.selectFrom('tb_observer_retry').select(sql<string>`count(*)::text`.as('n')).where('due_at', '<=', sql<Date>`now()`).as('retries_due'),
    eb.selectFrom('tb_observer_retry').select(sql<Date | null>`min(due_at)`.as('d')).as('next_retry_at'),
    eb.selectFrom('tb_observer_retry').select(sql<Date | null>`min(first_failed_at)`.as('d')).as('oldest_retry'),
    eb.selectFrom('tb_observer_dead_letter').select(sql<string>`count(*)::text`.as('n')).as('dead_letters'),
    // the first unread row in commit order (the reader's index) is, to within a transaction, the oldest
    eb.selectFrom('tb_entity_change_log').select('created_at')
      .where(sql`(txid, pk_entity_change_log)`, '>', sql`(${position.txid}::xid8, ${position.id}::bigint)`)
      .orderBy('txid').orderBy('pk_entity_change_log').limit(1).as('oldest_unread')
  ]).executeTakeFirstOrThrow()
  const candidates = [row.oldest_retry, row.oldest_unread].filter((d) => d !== null).map((d) => new Date(d).getTime())
  return {
    retries_scheduled: Number(row.retries_scheduled),
    retries_due: Number(row.retries_due),
    next_retry_at: row.next_retry_at === null ? null : new Date(row.next_retry_at),
    dead_letters: Number(row.dead_letters),
    oldest_pending_at: candidates.length === 0 ? null : new Date(Math.min(...candidates))
  }
}
