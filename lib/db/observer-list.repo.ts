// The admin list of observers (SPEC 5, 9.9): ordered by (priority, created_at, pk_observer), a
// total order the partial indexes `tb_observer_live_order` (every live observer), `tb_observer_tenant_order` and
// `tb_observer_global_order` (a tenant's, the global ones) hold.
// A keyset page is a range scan of one of them, as cheap deep in the list as at its start; a page
// by number skips along the index without reading the rows it skips. The total is counted up to
// LIST_COUNT_BOUND and estimated by the planner beyond.
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { TenantScope } from './tenant-scope.js'
import { toObserver, type ObserverListFilter, type ObserverRow, type StoredObserver } from './observers.repo.js'
import type { Database } from './types.js'

/** Beyond this many observers the total is the planner's estimate. */
export const LIST_COUNT_BOUND = 10_000

/** Where a page starts: after a row's key (a cursor), or at an offset (a page number). */
export type ListPosition = { after: ObserverListKey } | { offset: number }

/** A row's place in the list's order; `createdAt` keeps PostgreSQL's microseconds. */
export interface ObserverListKey {
  priority: number
  /** ISO 8601 in UTC with microseconds */
  createdAt: string
  pk: string
}

export interface ObserverListPage {
  data: StoredObserver[]
  /** the key of the page's last row when more rows follow */
  next: ObserverListKey | undefined
  total: number
  totalEstimated: boolean
}

type ListedRow = ObserverRow & { list_created_at: string, list_pk: string }

const ORDER = sql`priority, created_at, pk_observer`
const KEY_COLUMNS = sql`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as list_created_at, pk_observer::text as list_pk`

// fixed SQL whose absent parts are null parameters, folded away when PostgreSQL plans the statement with its values
function filtered (filter: ObserverListFilter): RawBuilder<unknown> {
  return sql`(${filter.include_deleted === true} or deleted_at is null)
    and (${filter.entity_type ?? null}::text is null or entity_type = ${filter.entity_type ?? null})
    and (${filter.event_type ?? null}::text is null or event_type = ${filter.event_type ?? null})
    and (${filter.enabled ?? null}::boolean is null or enabled = ${filter.enabled ?? null})`
}

/** The tenant conditions whose rows the scope sees, each one range of the tenant index. */
function tenantRanges (scope: TenantScope | undefined): Array<RawBuilder<unknown>> {
  if (scope === undefined) return [sql`true`]
  if (scope.tenant === null) return [sql`tenant_id is null`]
  return [sql`tenant_id = ${scope.tenant}`, sql`tenant_id is null`]
}

const visible = (scope: TenantScope | undefined): RawBuilder<unknown> => sql.join(tenantRanges(scope).map((range) => sql`(${range})`), sql` or `)

async function keysetRows (db: Kysely<Database>, schema: string, where: RawBuilder<unknown>, scope: TenantScope | undefined, after: ObserverListKey | undefined, limit: number): Promise<ListedRow[]> {
  const table = sql.id(schema, 'tb_observer')
  const past = after === undefined ? sql`true` : sql`(priority, created_at, pk_observer) > (${after.priority}, ${after.createdAt}::timestamptz, ${after.pk}::bigint)`
  // a tenant sees its own observers and the global ones: two ranges of the index, merged
  const ranges = tenantRanges(scope).map((range) =>
    sql`(select *, ${KEY_COLUMNS} from ${table} where ${where} and ${range} and ${past} order by ${ORDER} limit ${limit})`)
  const { rows } = ranges.length === 1
    ? await sql<ListedRow>`${ranges[0]}`.execute(db)
    : await sql<ListedRow>`select * from (${sql.join(ranges, sql` union all `)}) page order by ${ORDER} limit ${limit}`.execute(db)
  return rows
}

async function offsetRows (db: Kysely<Database>, schema: string, where: RawBuilder<unknown>, scope: TenantScope | undefined, offset: number, limit: number): Promise<ListedRow[]> {
  const table = sql.id(schema, 'tb_observer')
  // the rows skipped are read from the index only; the page's own rows are fetched after
  const { rows } = await sql<ListedRow>`with page as (
      select pk_observer from ${table} where ${where} and (${visible(scope)}) order by ${ORDER} offset ${offset} limit ${limit})
    select t.*, ${KEY_COLUMNS} from page join ${table} t using (pk_observer) order by ${ORDER}`.execute(db)
  return rows
}

async function countRows (db: Kysely<Database>, schema: string, where: RawBuilder<unknown>, scope: TenantScope | undefined): Promise<{ total: number, totalEstimated: boolean }> {
  const table = sql.id(schema, 'tb_observer')
  const condition = sql`${where} and (${visible(scope)})`
  const { rows: [counted] } = await sql<{ n: number }>`select count(*)::int as n from (select from ${table} where ${condition} limit ${LIST_COUNT_BOUND + 1}) c`.execute(db)
  if (counted.n <= LIST_COUNT_BOUND) return { total: counted.n, totalEstimated: false }
  const { rows: [plan] } = await sql<{ 'QUERY PLAN': Array<{ Plan: { 'Plan Rows': number } }> }>`explain (format json) select from ${table} where ${condition}`.execute(db)
  return { total: Math.max(counted.n, Math.round(plan['QUERY PLAN'][0].Plan['Plan Rows'])), totalEstimated: true }
}

/** One page of the observers the scope sees, with the key to the next page and the total. */
export async function listObserverPage (
  db: Kysely<Database>, schema: string, filter: ObserverListFilter, scope: TenantScope | undefined, pageSize: number, position: ListPosition
): Promise<ObserverListPage> {
  const where = filtered(filter)
  // one row past the page says whether another page follows
  const [rows, { total, totalEstimated }] = await Promise.all([
    'after' in position
      ? keysetRows(db, schema, where, scope, position.after, pageSize + 1)
      : position.offset === 0
        ? keysetRows(db, schema, where, scope, undefined, pageSize + 1)
        : offsetRows(db, schema, where, scope, position.offset, pageSize + 1),
    countRows(db, schema, where, scope)
  ])
  const page = rows.slice(0, pageSize)
  const last = page[page.length - 1]
  return {
    data: page.map(toObserver),
    next: rows.length > pageSize ? { priority: last.priority, createdAt: last.list_created_at, pk: last.list_pk } : undefined,
    total,
    totalEstimated
  }
}
