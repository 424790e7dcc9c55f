import t, { type Test } from 'tap'
import { Kysely, PostgresDialect } from 'kysely'
import { attachCapture, detachCapture, listCaptures } from '../../lib/db/captures.repo.js'
import { migrateToLatest } from '../../lib/db/migrate.js'
import { testPool } from '../helpers/pg.js'

interface LogRow {
  object_type: string
  object_id: string
  modification_type: string
  object_data: Record<string, unknown> | null
  object_data_before: Record<string, unknown> | null
  updated_fields: string[] | null
  tenant_id: string | null
  user_id: string | null
  trace_id: string | null
}

async function setup (t: Test) {
  const { pool, schema } = await testPool(t)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  await migrateToLatest(db, schema)
  const app = `${schema}_app`
  await pool.query(`create schema "${app}"`)
  t.teardown(async () => { await pool.query(`drop schema if exists "${app}" cascade`) })
  const changes = async (): Promise<LogRow[]> => (await pool.query<LogRow>(
    `select object_type, object_id, modification_type, object_data, object_data_before, updated_fields, tenant_id, user_id, trace_id
       from "${schema}".tb_entity_change_log order by pk_entity_change_log`)).rows
  return { pool, db, schema, app, changes }
}

t.test('bigint key: INSERT, UPDATE (before image, changed fields), DELETE', async (t) => {
  const { pool, db, schema, app, changes } = await setup(t)
  await pool.query(`create table "${app}".orders (id bigint generated always as identity primary key, status text, total numeric, meta jsonb)`)
  const attached = await attachCapture(db, schema, { schema: app, table: 'orders' })
  t.same(attached, { ok: true, capture: { schema: app, table: 'orders', entity_type: 'orders', id_column: 'id' } })
  await pool.query(`insert into "${app}".orders (status, total, meta) values ('new', 10.50, '{"a":1}')`)
  await pool.query(`update "${app}".orders set status = 'paid', meta = '{"a":2}' where id = 1`)
  await pool.query(`update "${app}".orders set total = total where id = 1`)
  await pool.query(`delete from "${app}".orders where id = 1`)
  const rows = await changes()
  t.equal(rows.length, 4)
  t.match(rows[0], { object_type: 'orders', object_id: '1', modification_type: 'INSERT', object_data: { id: 1, status: 'new', total: 10.5, meta: { a: 1 } }, object_data_before: null, updated_fields: null })
  t.match(rows[1], { modification_type: 'UPDATE', object_data: { status: 'paid', meta: { a: 2 } }, object_data_before: { status: 'new', meta: { a: 1 } } })
  t.same(rows[1].updated_fields, ['meta', 'status'], 'only the fields that changed, sorted')
  t.same(rows[2].updated_fields, [], 'an update that changes nothing lists no fields')
  t.match(rows[3], { modification_type: 'DELETE', object_id: '1', object_data: null, object_data_before: { id: 1, status: 'paid' } })
})

t.test('uuid key, custom entity type and id column, tenant/user/trace from settings', async (t) => {
  const { pool, db, schema, app, changes } = await setup(t)
  await pool.query(`create table "${app}".users (user_key uuid primary key default gen_random_uuid(), email text)`)
  const attached = await attachCapture(db, schema, { schema: app, table: 'users', entity_type: 'user' })
  t.match(attached, { ok: true, capture: { entity_type: 'user', id_column: 'user_key' } }, 'the primary key is found')
  const client = await pool.connect()
  try {
    await client.query('begin')
    await client.query("select set_config('observers.tenant_id', 'acme', true), set_config('observers.user_id', 'u-7', true), set_config('observers.trace_id', 'trace-1', true)")
    await client.query(`insert into "${app}".users (email) values ('a@example.com')`)
    await client.query('commit')
  } finally {
    client.release()
  }
  const { rows: [user] } = await pool.query(`select user_key from "${app}".users`)
  await pool.query(`update "${app}".users set email = 'b@example.com'`)
  const rows = await changes()
  t.match(rows[0], { object_type: 'user', object_id: user.user_key, modification_type: 'INSERT', tenant_id: 'acme', user_id: 'u-7', trace_id: 'trace-1' })
  t.match(rows[1], { object_id: user.user_key, modification_type: 'UPDATE', tenant_id: null, updated_fields: ['email'] })
})

t.test('the writer\'s W3C trace context is kept with its changes; a malformed one is ignored, never an error', async (t) => {
  const { pool, db, schema, app } = await setup(t)
  await pool.query(`create table "${app}".items (sku text primary key)`)
  await attachCapture(db, schema, { schema: app, table: 'items' })
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  const cases: Array<[string, string, string]> = [
    ['a', traceparent, 'congo=t61rcWkgMzE'],
    ['b', 'cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-later-version', ''],
    ['c', `${traceparent}-extra`, 'congo=t61rcWkgMzE'],
    ['d', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', ''],
    ['e', '00-00000000000000000000000000000000-b7ad6b7169203331-01', ''],
    ['f', traceparent, 'bad\nstate'],
    ['g', '', '']
  ]
  const client = await pool.connect()
  try {
    for (const [sku, header, state] of cases) {
      await client.query('begin')
      await client.query("select set_config('observers.traceparent', $1, true), set_config('observers.tracestate', $2, true)", [header, state])
      await client.query(`insert into "${app}".items (sku) values ($1)`, [sku])
      await client.query('commit')
    }
  } finally {
    client.release()
  }
  const { rows } = await pool.query(`select object_id, traceparent, tracestate, trace_id from "${schema}".tb_entity_change_log order by object_id`)
  const trace = '0af7651916cd43dd8448eb211c80319c'
  t.same(rows, [
    { object_id: 'a', traceparent, tracestate: 'congo=t61rcWkgMzE', trace_id: trace },
    { object_id: 'b', traceparent: cases[1][1], tracestate: null, trace_id: trace },
    { object_id: 'c', traceparent: null, tracestate: null, trace_id: null },
    { object_id: 'd', traceparent: null, tracestate: null, trace_id: null },
    { object_id: 'e', traceparent: null, tracestate: null, trace_id: null },
    { object_id: 'f', traceparent, tracestate: null, trace_id: trace },
    { object_id: 'g', traceparent: null, tracestate: null, trace_id: null }
  ])
})

t.test('attach refuses unknown tables and columns, and a second attach; detach removes it', async (t) => {
  const { pool, db, schema, app } = await setup(t)
  await pool.query(`create table "${app}".items (sku text primary key)`)
  t.match(await attachCapture(db, schema, { schema: app, table: 'nope' }), { ok: false, reason: 'no_table' })
  t.match(await attachCapture(db, schema, { schema: app, table: 'items"; drop table x; --' }), { ok: false, reason: 'no_table' })
  t.match(await attachCapture(db, schema, { schema: app, table: 'items', id_column: 'id' }), { ok: false, reason: 'no_column' })
  t.match(await attachCapture(db, schema, { schema: app, table: 'items' }), { ok: true, capture: { id_column: 'sku' } })
  t.match(await attachCapture(db, schema, { schema: app, table: 'items' }), { ok: false, reason: 'attached' })
  t.same(await listCaptures(db, schema), [{ schema: app, table: 'items', entity_type: 'items', id_column: 'sku' }])
  t.equal(await detachCapture(db, schema, app, 'items'), true)
  t.equal(await detachCapture(db, schema, app, 'items'), false)
  t.same(await listCaptures(db, schema), [])
  await pool.query(`insert into "${app}".items values ('x')`)
  const { rows } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log`)
  t.equal(rows[0].n, 0, 'a detached table writes nothing')
})
