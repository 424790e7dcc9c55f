import t from 'tap'
import { build } from '../helper.js'
import { uniqueSchema } from '../helpers/pg.js'
import { INJECTIONS, call } from '../helpers/routes.js'

t.test('captures: attach (201), list, changes flow into the change log, detach (204)', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const appSchema = uniqueSchema('app')
  await pool.query(`create schema "${appSchema}"; create table "${appSchema}".invoices (code text primary key, amount int)`)
  t.teardown(async () => { await pool.query(`drop schema if exists "${appSchema}" cascade`) })

  t.same((await call(app, 'GET', '/captures')).json(), { data: [] })
  const attached = await call(app, 'POST', '/captures', { schema: appSchema, table: 'invoices', entity_type: 'invoice' })
  t.equal(attached.statusCode, 201)
  t.same(attached.json(), { schema: appSchema, table: 'invoices', entity_type: 'invoice', id_column: 'code' }, 'the primary key is the default id column')
  t.same((await call(app, 'GET', '/captures')).json(), { data: [attached.json()] })

  await pool.query(`insert into "${appSchema}".invoices values ('INV-1', 10)`)
  const entries = (await call(app, 'GET', '/changelog?object_type=invoice')).json().entries
  t.match(entries, [{ object_type: 'invoice', object_id: 'INV-1', modification_type: 'INSERT', object_data: { code: 'INV-1', amount: 10 } }])

  const again = await call(app, 'POST', '/captures', { schema: appSchema, table: 'invoices' })
  t.equal(again.statusCode, 409)
  t.match(again.json(), { code: 'OBS_ERR_ALREADY_ATTACHED' })

  t.equal((await call(app, 'DELETE', `/captures/${appSchema}/invoices`)).statusCode, 204)
  t.same((await call(app, 'GET', '/captures')).json(), { data: [] })
  await pool.query(`insert into "${appSchema}".invoices values ('INV-2', 20)`)
  t.equal((await call(app, 'GET', '/changelog?object_type=invoice')).json().entries.length, 1, 'detached: no more capture')
  t.match((await call(app, 'DELETE', `/captures/${appSchema}/invoices`)).json(), { statusCode: 404, code: 'OBS_ERR_NOT_FOUND' })
  t.equal((await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log`)).rows[0].n, 1)
})

t.test('captures: unknown tables and columns are 400; names are never spliced into SQL', async (t) => {
  const { app, pool } = await build(t, { runtime: { start: false } })
  const appSchema = uniqueSchema('app')
  await pool.query(`create schema "${appSchema}"; create table "${appSchema}".things (id int primary key)`)
  t.teardown(async () => { await pool.query(`drop schema if exists "${appSchema}" cascade`) })
  const noTable = await call(app, 'POST', '/captures', { schema: appSchema, table: 'nothing' })
  t.equal(noTable.statusCode, 400)
  t.match(noTable.json(), { code: 'OBS_ERR_INVALID_TABLE', message: /does not exist/ })
  const noColumn = await call(app, 'POST', '/captures', { schema: appSchema, table: 'things', id_column: 'uuid' })
  t.match(noColumn.json(), { statusCode: 400, code: 'OBS_ERR_INVALID_TABLE', message: /no column uuid/ })
  for (const value of INJECTIONS) {
    const res = await call(app, 'POST', '/captures', { schema: appSchema, table: value.slice(0, 63) })
    t.equal(res.statusCode, 400, value)
    t.equal((await call(app, 'DELETE', `/captures/${appSchema}/${encodeURIComponent(value.slice(0, 63))}`)).statusCode, 404, value)
  }
  t.equal((await pool.query(`select count(*)::int as n from "${appSchema}".things`)).rows[0].n, 0, 'the table is intact')
  t.equal((await call(app, 'POST', '/captures', { table: 'x'.repeat(64) })).statusCode, 400)
  t.equal((await call(app, 'POST', '/captures', { table: 'things', trigger: 'mine' })).statusCode, 400)
  t.equal((await call(app, 'POST', '/captures', {})).json().message, 'body/table is required')
})
