import t from 'tap'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { migrateToLatest } from '../../lib/db/migrate.js'
import { migrations } from '../../migrations/index.js'
import { testPool } from '../helpers/pg.js'

const TABLES = ['observer_checkpoints', 'tb_change_log_ahead', 'tb_entity_change_log', 'tb_observer', 'tb_observer_dead_letter', 'tb_observer_endpoint', 'tb_observer_endpoint_window', 'tb_observer_instance', 'tb_observer_job', 'tb_observer_key', 'tb_observer_listener', 'tb_observer_log', 'tb_observer_parked', 'tb_observer_partition', 'tb_observer_retry', 'tb_observer_throughput', 'tb_observer_version']

t.test('migrations create every table from empty and a re-run does nothing', async (t) => {
  const { pool, schema } = await testPool(t)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  const first = await migrateToLatest(db, schema)
  t.same(first.results?.map((r) => [r.migrationName, r.status]), Object.keys(migrations(schema)).map((name) => [name, 'Success']), 'every migration, in order')
  const { rows } = await pool.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = $1 and table_name not like 'kysely%' order by 1", [schema])
  t.same(rows.map((r) => r.table_name), TABLES)
  const again = await migrateToLatest(db, schema)
  t.same(again.results, [], 'nothing left to run')
  const { rows: functions } = await pool.query<{ proname: string }>(
    'select proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where nspname = $1 order by 1', [schema])
  t.same(functions.map((f) => f.proname), ['backfill_chunk', 'bump_observer_version', 'capture_change', 'flag_blocked_keys', 'flag_observer_keys', 'notify_change', 'notify_endpoint', 'notify_resolved', 'stamp_observer_version', 'traceparent_setting', 'tracestate_setting'])
})

t.test('two instances migrating the same schema at once both succeed, once', async (t) => {
  const { pool, schema } = await testPool(t, 6)
  const a = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  const b = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  const [ra, rb] = await Promise.all([migrateToLatest(a, schema), migrateToLatest(b, schema)])
  const ran = [...(ra.results ?? []), ...(rb.results ?? [])].filter((r) => r.status === 'Success')
  const all = Object.keys(migrations(schema)).length
  t.equal(ran.length, all, 'each migration ran exactly once')
  const { rows } = await sql<{ n: string }>`select count(*)::text as n from ${sql.id(schema, 'kysely_migration')}`.execute(a)
  t.equal(rows[0].n, String(all))
})

t.test('the change-log NOTIFY names the committing transaction, once per transaction', async (t) => {
  const { pool, schema } = await testPool(t, 3)
  await migrateToLatest(new Kysely<any>({ dialect: new PostgresDialect({ pool }) }), schema)
  const listener = await pool.connect()
  t.teardown(() => listener.release())
  const payloads: string[] = []
  listener.on('notification', (n) => { if (n.channel === `${schema}_changes`) payloads.push(n.payload ?? '') })
  await listener.query(`listen "${schema}_changes"`)
  const writer = await pool.connect()
  t.teardown(() => writer.release())
  await writer.query('begin')
  for (let i = 0; i < 3; i++) {
    await writer.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type) values ('order', $1, 'INSERT')`, [String(i)])
  }
  const { rows: [{ txid }] } = await writer.query('select pg_current_xact_id()::text as txid')
  await writer.query('commit')
  // a marker transaction after it: once its notification is here, so is the first one's
  await writer.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type) values ('order', 'marker', 'INSERT')`)
  for (let i = 0; payloads.length < 2 && i < 500; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(payloads[0], txid, 'the payload is the transaction id')
  t.equal(payloads.length, 2, 'three statements of one transaction: one notification')
  t.ok(BigInt(payloads[1]) > BigInt(txid), 'the next transaction names its own, later id')
})

t.test('the tables enforce their constraints', async (t) => {
  const { pool, schema } = await testPool(t)
  await migrateToLatest(new Kysely<any>({ dialect: new PostgresDialect({ pool }) }), schema)
  const insert = async (values: string): Promise<unknown> =>
    await pool.query(`insert into "${schema}".tb_observer (name, actions, priority, timeout_ms, event_type) values ${values}`)
  await insert('(\'a\', \'[{"type":"log"}]\', 10, 100, \'INSERT\')')
  await t.rejects(insert('(\'a\', \'[{"type":"log"}]\', 10, 100, null)'), { code: '23505' }, 'live names are unique')
  await pool.query(`update "${schema}".tb_observer set deleted_at = now() where name = 'a'`)
  await t.resolves(insert('(\'a\', \'[{"type":"log"}]\', 10, 100, null)'), 'a deleted name can be reused')
  await t.rejects(insert('(\'b\', \'[]\', 10, 100, null)'), { code: '23514' }, 'actions must not be empty')
  await t.rejects(insert('(\'c\', \'[{"type":"log"}]\', 1001, 100, null)'), { code: '23514' }, 'priority at most 1000')
  await t.rejects(insert('(\'d\', \'[{"type":"log"}]\', 1, 0, null)'), { code: '23514' }, 'timeout must be positive')
  await t.rejects(insert('(\'e\', \'[{"type":"log"}]\', 1, 10, \'UPSERT\')'), { code: '23514' }, 'event types are fixed')
  await insert('(\'t\', \'[{"type":"log"}]\', 1, 10, null)')
  await t.resolves(pool.query(`insert into "${schema}".tb_observer (name, actions, tenant_id) values ('t', '[{"type":"log"}]', 'acme')`),
    'the same name in another tenant is fine')
})
