// The gauges health and metrics report (SPEC 9.9): exact for small tables, estimates past 10 000
// rows, and a big table is never read to get them.
import t from 'tap'
import { Kysely, PostgresDialect } from 'kysely'
import { TABLE_COUNT_BOUND, readGauges } from '../../lib/db/gauges.repo.js'
import { migrateToLatest } from '../../lib/db/migrate.js'
import { preparedOn } from '../../lib/db/statements.js'
import { eventually } from '../helper.js'
import { testPool } from '../helpers/pg.js'

interface PlanNode { 'Node Type': string, 'Relation Name'?: string, 'Actual Loops'?: number, 'Actual Rows'?: number, Plans?: PlanNode[] }
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)]

async function insertDeadLetters (pool: any, schema: string, count: number): Promise<void> {
  await pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, change_log_id, entity_type, entity_id,
      event_type, action_index, action_type, event, error_code, error_message, attempts, first_failed_at, last_failed_at)
    select gen_random_uuid(), 'o', gen_random_uuid(), g, 'order', g::text, 'INSERT', 0, 'webhook', '{}', 'HTTP_500', 'failed', 3, now(), now()
      from generate_series(1, $1::int) g`, [count])
}

t.test('below 10 000 rows the four tables are counted exactly', async (t) => {
  const { pool, schema } = await testPool(t, 2)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  await migrateToLatest(db, schema)
  t.match(await readGauges(db, schema, 'default'), { retriesPending: 0, deadLetters: 0, blockedKeys: 0, parkedEvents: 0 })
  await insertDeadLetters(pool, schema, 3)
  t.match(await readGauges(db, schema, 'default'), { deadLetters: 3 }, 'counted at once, statistics or not')
  await insertDeadLetters(pool, schema, TABLE_COUNT_BOUND - 3)
  t.equal((await readGauges(db, schema, 'default')).deadLetters, TABLE_COUNT_BOUND, 'exact at the bound')
})

t.test('past 10 000 rows a table is not read: its size is the statistics\' estimate', async (t) => {
  // one connection: the statement prepared by readGauges is the one explained below
  const { pool, schema } = await testPool(t, 1)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  await migrateToLatest(db, schema)
  preparedOn(db, pool)
  await insertDeadLetters(pool, schema, 2 * TABLE_COUNT_BOUND)
  const burst = await readGauges(db, schema, 'default')
  t.ok(burst.deadLetters > TABLE_COUNT_BOUND, `right after a burst, before the statistics know of it: more than the bound (${burst.deadLetters})`)
  // the inserting session reports its counts at most once a second: an ANALYZE before that report
  // is followed by it, and the live-tuple count reads twice the table
  await eventually(async () => Number((await pool.query(`select pg_stat_get_live_tuples('"${schema}".tb_observer_dead_letter'::regclass) as n`)).rows[0].n) >= 2 * TABLE_COUNT_BOUND || undefined, 10_000, 'the burst in the statistics')
  await pool.query(`analyze "${schema}".tb_observer_dead_letter`)
  const gauges = await readGauges(db, schema, 'default')
  t.ok(gauges.deadLetters >= 0.5 * 2 * TABLE_COUNT_BOUND && gauges.deadLetters <= 1.5 * 2 * TABLE_COUNT_BOUND, `an estimate near 20 000 (${gauges.deadLetters})`)

  const { rows: [prepared] } = await pool.query<{ name: string }>(
    `select name from pg_prepared_statements where statement like '%tb_observer_dead_letter%' and statement like '%"${schema}"%'`)
  const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(
    `explain (analyze, format json) execute "${prepared.name}"(null, null, 'default', 10000, ${TABLE_COUNT_BOUND}, false)`)
  const read = nodes(plan).filter((n) => n['Relation Name'] === 'tb_observer_dead_letter')
  t.ok(read.length > 0, 'the plan has the count, for a small table')
  t.same(read.map((n) => n['Actual Loops']), read.map(() => 0), 'and never runs it: no dead-letter row is read')
})
