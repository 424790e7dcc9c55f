// GET /observers deep in a big table (SPEC 9.9): a cursor page is a range scan of the list-order
// index, reading the page's rows and no others, as deep in the list as at its start. Checked on the
// plans PostgreSQL makes for the statements the list runs, over 20 000 observers. (A page by number
// still skips its offset: bench/README.md has what that costs.)
import t from 'tap'
import { Kysely, PostgresDialect, type CompiledQuery } from 'kysely'
import { listObserverPage } from '../../lib/db/observer-list.repo.js'
import { migrateToLatest } from '../../lib/db/migrate.js'
import { testPool } from '../helpers/pg.js'

interface PlanNode { 'Node Type': string, 'Index Name'?: string, 'Relation Name'?: string, 'Actual Rows'?: number, 'Actual Loops'?: number, 'Rows Removed by Filter'?: number, Plans?: PlanNode[] }
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)]

t.test('cursor pages are index range scans reading only the page, deep or not, for a tenant too', async (t) => {
  const { pool, schema } = await testPool(t, 2)
  const captured: CompiledQuery[] = []
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }), log: (event) => { captured.push(event.query) } })
  await migrateToLatest(db, schema)
  await pool.query(`insert into "${schema}".tb_observer (name, actions, priority, timeout_ms, tenant_id)
    select 'o' || g, '[{"type":"log"}]', g % 7, 1000, case when g % 100 = 0 then 'acme' when g % 100 = 1 then null else 'other-' || g % 50 end
      from generate_series(1, 20000) g`)
  await pool.query(`vacuum analyze "${schema}".tb_observer`)

  /** The plans of the page's rows statement (the count runs beside it). */
  async function plansOf (scope: { tenant: string | null } | undefined, position: Parameters<typeof listObserverPage>[5]): Promise<PlanNode[]> {
    captured.length = 0
    await listObserverPage(db, schema, {}, scope, 100, position)
    const rows = captured.find((q) => !q.sql.includes('count(*)') && !q.sql.startsWith('explain'))
    if (rows === undefined) throw new Error('no rows statement')
    const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(`explain (analyze, format json) ${rows.sql}`, rows.parameters as unknown[])
    return nodes(plan)
  }
  const deep = await listObserverPage(db, schema, {}, undefined, 100, { offset: 19_000 })
  const after = deep.next
  const tenantDeep = await listObserverPage(db, schema, {}, { tenant: 'acme' }, 100, { offset: 250 })
  t.ok(after !== undefined && tenantDeep.next !== undefined, 'keys deep in the lists')
  if (after === undefined || tenantDeep.next === undefined) return

  for (const [what, scope, position, index] of [
    ['the first page', undefined, { offset: 0 }, 'tb_observer_live_order'],
    ['a page by cursor at row 19 100', undefined, { after }, 'tb_observer_live_order'],
    ['a tenant\'s page by cursor at row 351', { tenant: 'acme' }, { after: tenantDeep.next }, ['tb_observer_tenant_order', 'tb_observer_global_order']]
  ] as Array<[string, { tenant: string | null } | undefined, Parameters<typeof listObserverPage>[5], string | string[]]>) {
    const plan = await plansOf(scope, position)
    t.notOk(plan.some((n) => n['Node Type'] === 'Sort' && (n['Actual Rows'] ?? 0) > 202), `${what}: no sort of the observers`)
    const scans = plan.filter((n) => n['Index Name'] !== undefined && n['Index Name'].startsWith('tb_observer_'))
    const indexes = [index].flat()
    t.ok(scans.length === indexes.length && scans.every((n) => indexes.includes(n['Index Name'] ?? '')), `${what}: along ${indexes.join(' and ')}`)
    const read = scans.map((n) => (n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0))
    t.ok(read.every((rows) => rows <= 101), `${what}: reads no more rows than the page (${read.join(', ')})`)
  }
})
