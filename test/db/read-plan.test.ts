// The batch read is the hot path's one query: it must stay an index range scan over the commit
// order, also in the generic plan PostgreSQL settles on for a prepared statement after a few runs.
// (A probe once added to it was planned, generically, as a sequential scan of the whole change log
// on every read: the backlog fell to half.)
import t, { type Test } from 'tap'
import type pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import { readBelowHorizon, START } from '../../lib/db/change-log.repo.js'
import { ensurePartitionIndex, partitionsWithRows, partitionsWithRowsQuery } from '../../lib/db/partitions.repo.js'
import { unreadEarlierChanges } from '../../lib/db/change-order.repo.js'
import { migrateToLatest } from '../../lib/db/migrate.js'
import { preparedOn } from '../../lib/db/statements.js'
import { LAG_COUNT_BOUND, TABLE_COUNT_BOUND, readGauges } from '../../lib/db/gauges.repo.js'
import { testPool } from '../helpers/pg.js'

interface PlanNode { 'Node Type': string, 'Relation Name'?: string, 'Index Name'?: string, Plans?: PlanNode[] }
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)]

/** A migrated schema on one connection: the statements the reads prepare are the ones explained. */
async function migratedOnOneConnection (t: Test): Promise<{ pool: pg.Pool, schema: string, db: Kysely<any> }> {
  const { pool, schema } = await testPool(t, 1)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  await migrateToLatest(db, schema)
  preparedOn(db, pool)
  return { pool, schema, db }
}

t.test('the batch read is an index scan in its generic plan, over a long change log', async (t) => {
  const { pool, schema, db } = await migratedOnOneConnection(t)
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', g::text, 'INSERT', jsonb_build_object('n', g) from generate_series(1, 50000) g`)
  await pool.query(`analyze "${schema}".tb_entity_change_log`)
  const read = await readBelowHorizon(db, schema, START, 100)
  t.equal(read.rows.length, 100)
  const { rows: [prepared] } = await pool.query<{ name: string }>(
    `select name from pg_prepared_statements where statement like '%pg_snapshot_xmin%' and statement like '%"${schema}"%' and statement not like '%lateral%'`)
  t.ok(prepared, 'the read is a named prepared statement')
  await pool.query('set plan_cache_mode = force_generic_plan')
  t.teardown(async () => { await pool.query('reset plan_cache_mode').catch(() => {}) })
  const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(`explain (format json) execute "${prepared.name}"('0', '0', 100)`)
  const scans = nodes(plan).filter((n) => n['Relation Name'] === 'tb_entity_change_log')
  t.same(scans.map((n) => [n['Node Type'], n['Index Name']]), [['Index Scan', 'tb_entity_change_log_commit_order']],
    'the change log is read once, along the commit-order index')
})

t.test('a metrics scrape reads the change log along its indexes only, in the generic plan too', async (t) => {
  const { pool, schema, db } = await migratedOnOneConnection(t)
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', g::text, 'INSERT', jsonb_build_object('n', g) from generate_series(1, 50000) g`)
  await pool.query(`analyze "${schema}".tb_entity_change_log`)
  const gauges = await readGauges(db, schema, 'default', { txid: '0', id: '0' })
  t.match(gauges, { lagEvents: 50000, retriesPending: 0, deadLetters: 0 })
  const { rows: [prepared] } = await pool.query<{ name: string }>(
    `select name from pg_prepared_statements where statement like '%tb_observer_dead_letter%' and statement like '%"${schema}"%'`)
  t.ok(prepared, 'the gauges are a named prepared statement')
  await pool.query('set plan_cache_mode = force_generic_plan')
  t.teardown(async () => { await pool.query('reset plan_cache_mode').catch(() => {}) })
  const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(`explain (format json) execute "${prepared.name}"(null, null, 'default', ${LAG_COUNT_BOUND}, ${TABLE_COUNT_BOUND}, false)`)
  const scans = nodes(plan).filter((n) => n['Relation Name'] === 'tb_entity_change_log')
  t.equal(scans.length, 3, 'the count, the head and the oldest row')
  t.ok(scans.every((n) => n['Node Type'].startsWith('Index')), `index scans only: ${scans.map((n) => n['Node Type']).join(', ')}`)
})

t.test('one partition\'s batch read is one index range scan along its partition index, in its generic plan', async (t) => {
  const { pool, schema, db } = await migratedOnOneConnection(t)
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', g::text, 'INSERT', jsonb_build_object('n', g) from generate_series(1, 50000) g`)
  await ensurePartitionIndex(db, schema, 8)
  await pool.query(`analyze "${schema}".tb_entity_change_log`)
  const read = await readBelowHorizon(db, schema, START, 100, { index: 3, count: 8 })
  t.equal(read.rows.length, 100)
  const { rows: [prepared] } = await pool.query<{ name: string }>(
    `select name from pg_prepared_statements where statement like '%pg_snapshot_xmin%' and statement like '%"${schema}"%' and statement like '%hashtext%' and statement not like '%lateral%'`)
  t.ok(prepared, 'the partition\'s read is a named prepared statement')
  await pool.query('set plan_cache_mode = force_generic_plan')
  t.teardown(async () => { await pool.query('reset plan_cache_mode').catch(() => {}) })
  const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(`explain (format json) execute "${prepared.name}"('0', '0', 100, 3, 'default')`)
  const scans = nodes(plan).filter((n) => n['Relation Name'] === 'tb_entity_change_log')
  t.same(scans.map((n) => [n['Node Type'], n['Index Name']]), [['Index Scan', 'tb_entity_change_log_partition_8']],
    'the change log is read once, along the partition\'s commit-order index')
  const again = await readBelowHorizon(db, schema, START, 50000, { index: 3, count: 8 })
  const { rows: [{ n }] } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log where (hashtext(object_type || '/' || object_id) & 2147483647) % 8 = 3`)
  t.equal(again.rows.length, n, 'and it reads every row of the partition, and only those')
})

t.test("the ordered groups' check for unread earlier changes is one index range scan per key, in its generic plan too", async (t) => {
  const { pool, schema, db } = await migratedOnOneConnection(t)
  // 50 000 changes of 500 keys: a key's past rows are not scanned
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', (g % 500)::text, 'UPDATE', jsonb_build_object('n', g) from generate_series(1, 50000) g`)
  await pool.query(`analyze "${schema}".tb_entity_change_log`)
  const { rows: [last] } = await pool.query(`select txid::text as txid from "${schema}".tb_entity_change_log order by pk_entity_change_log desc limit 1`)
  const key = { objectType: 'order', objectId: '7', minTxid: last.txid, maxId: '50000' }
  t.same(await unreadEarlierChanges(db, schema, 'default', [key], ['49507']), [], 'rows of one transaction: nothing unread before them')
  const { rows: [prepared] } = await pool.query<{ name: string }>(
    `select name from pg_prepared_statements where statement like '%hashtextextended%' and statement like '%"${schema}"%'`)
  t.ok(prepared, 'the check is a named prepared statement')
  await pool.query('set plan_cache_mode = force_generic_plan')
  t.teardown(async () => { await pool.query('reset plan_cache_mode').catch(() => {}) })
  const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(
    `explain (format json) execute "${prepared.name}"('{order}', '{7}', '{${last.txid}}', '{50000}', '{49507}', 'default')`)
  const all = nodes(plan)
  const scans = all.filter((n) => n['Relation Name'] === 'tb_entity_change_log')
  t.equal(scans.length, 1, 'the change log is read once per key')
  // an index scan, or a bitmap heap scan over a bitmap index scan (no relation name of its own)
  const index = scans[0]['Index Name'] ?? all.find((n) => n['Node Type'] === 'Bitmap Index Scan')?.['Index Name']
  t.equal(index, 'tb_entity_change_log_key_txid', `along the key index (${scans[0]['Node Type']})`)
})

t.test('an idle read (rows or the horizon in one statement) never scans the whole change log, with statistics taken before it grew', async (t) => {
  const { pool, schema, db } = await migratedOnOneConnection(t)
  await ensurePartitionIndex(db, schema, 8)
  // analyzed while empty, as after an install: the rows written since are not in the statistics
  // (a probe of rows after the position once ran as a sequential scan of the whole log here)
  await pool.query(`analyze "${schema}".tb_entity_change_log`)
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', g::text, 'INSERT', jsonb_build_object('n', g) from generate_series(1, 50000) g`)
  const { rows: [last] } = await pool.query(`select txid::text as txid, pk_entity_change_log::text as id from "${schema}".tb_entity_change_log order by pk_entity_change_log desc limit 1`)
  // at the head of the log, the way an idle stream reads: nothing to read, the horizon, nothing above it
  for (const slice of [undefined, { index: 3, count: 8 }]) {
    const read = await readBelowHorizon(db, schema, last, 100, slice, true)
    t.match(read, { rows: [], above: false }, slice === undefined ? 'the whole stream' : 'a partition')
  }
  const { rows: prepared } = await pool.query<{ name: string, statement: string }>(
    `select name, statement from pg_prepared_statements where statement like '%lateral%' and statement like '%"${schema}"%'`)
  t.equal(prepared.length, 2, 'both are named prepared statements')
  // planned afresh for each read (custom plans), so this is the plan each idle read runs
  await pool.query('set plan_cache_mode = force_custom_plan')
  t.teardown(async () => { await pool.query('reset plan_cache_mode').catch(() => {}) })
  for (const { name, statement } of prepared) {
    const partition = statement.includes('hashtext')
    const args = partition ? `'${last.txid}', '${last.id}', 100, 3, 'default'` : `'${last.txid}', '${last.id}', 100`
    const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(`explain (format json) execute "${name}"(${args})`)
    const scans = nodes(plan).filter((n) => n['Relation Name'] === 'tb_entity_change_log')
    // along an index (an index scan, or a bitmap heap scan over one): never the whole log
    t.ok(scans.length > 0 && scans.every((n) => n['Node Type'] !== 'Seq Scan'),
      `${partition ? 'a partition' : 'the whole stream'}: ${JSON.stringify(scans.map((n) => [n['Node Type'], n['Index Name']]))}`)
  }
})

t.test("an instance's idle poll of its partitions is one index probe per partition, with statistics taken before the log grew", async (t) => {
  const { pool, schema, db } = await migratedOnOneConnection(t)
  await ensurePartitionIndex(db, schema, 8)
  await pool.query(`analyze "${schema}".tb_entity_change_log`)
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', g::text, 'INSERT', jsonb_build_object('n', g) from generate_series(1, 50000) g`)
  const { rows: heads } = await pool.query<{ partition: number, txid: string, id: string }>(`select distinct on (p) p as partition, t::text as txid, i::text as id
    from (select (hashtext(object_type || '/' || object_id) & 2147483647) % 8 as p, txid as t, pk_entity_change_log as i from "${schema}".tb_entity_change_log) x
    order by p, t desc, i desc`)
  // partitions 0 - 3 read to their last row, 4 - 7 one row short of it
  const at = heads.map((h) => ({ partition: h.partition, txid: h.txid, id: h.partition < 4 ? h.id : String(BigInt(h.id) - 1n) }))
  t.same([...await partitionsWithRows(db, schema, 8, at)].sort(), [4, 5, 6, 7], 'the partitions with a row after their position')
  const { sql: text, parameters } = partitionsWithRowsQuery(schema, 8, at).compile(db)
  const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(`explain (format json) ${text}`, parameters as unknown[])
  const scans = nodes(plan).filter((n) => n['Relation Name'] === 'tb_entity_change_log')
  t.same(scans.map((n) => [n['Node Type'].replace('Index Only Scan', 'Index Scan'), n['Index Name']]), [['Index Scan', 'tb_entity_change_log_partition_8']],
    'along the partition index, never the whole log')
})

t.test('an idle read stays an index scan when the log grows long after its plan was first made', async (t) => {
  const { pool, schema, db } = await migratedOnOneConnection(t)
  // a new install: the log is analysed while nearly empty, and read idly for a while
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', g::text, 'INSERT', '{}' from generate_series(1, 30) g`)
  await pool.query(`analyze "${schema}".tb_entity_change_log`)
  const head = async (): Promise<{ txid: string, id: string }> => (await pool.query(`select txid::text as txid, pk_entity_change_log::text as id
    from "${schema}".tb_entity_change_log order by pk_entity_change_log desc limit 1`)).rows[0]
  let last = await head()
  for (let i = 0; i < 20; i++) t.match(await readBelowHorizon(db, schema, last, 100, undefined, true), { rows: [] })
  // then it grows a thousandfold before any ANALYZE (a bulk load, a backfill)
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'order', g::text, 'INSERT', '{}' from generate_series(1, 30000) g`)
  last = await head()
  for (let i = 0; i < 5; i++) t.match(await readBelowHorizon(db, schema, last, 100, undefined, true), { rows: [] })
  const { rows: [{ name, parameters }] } = await pool.query<{ name: string, parameters: number }>(
    `select name, cardinality(parameter_types) as parameters from pg_prepared_statements where statement like '%lateral%' and statement like '%"${schema}"%'`)
  // the plan the next idle read runs, as the plan cache picks it
  const args = [`'${last.txid}'`, `'${last.id}'`, '100'].slice(0, parameters).join(', ')
  const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(`explain (format json) execute "${name}"(${args})`)
  const scans = nodes(plan).filter((n) => n['Relation Name'] === 'tb_entity_change_log')
  t.ok(scans.every((n) => n['Node Type'] !== 'Seq Scan'), `along an index: ${JSON.stringify(scans.map((n) => [n['Node Type'], n['Index Name']]))}`)
})
