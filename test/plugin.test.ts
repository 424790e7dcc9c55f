import t from 'tap'
import Fastify from 'fastify'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import observerPlugin from '../index.js'
import { bareApp, build, eventually, TOKEN } from './helper.js'
import { getDatabaseUrl, uniqueSchema } from './helpers/pg.js'

t.test('health answers 503 until the runtime runs, 200 once it does', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const before = await app.inject({ url: '/observers/runtime/health' })
  t.equal(before.statusCode, 503)
  t.match(before.json(), { status: 'stopped', running: false, reading: false, listener_id: 'default' })
  await app.observers.start()
  const after = await app.inject({ url: '/observers/runtime/health' })
  t.equal(after.statusCode, 200, 'no token needed for health')
  t.match(after.json(), { running: true, observer_count: 0, events_processed: 0, dead_letters: 0, retries_pending: 0 })
})

t.test('a wrong option fails register with a message naming it', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(observerPlugin, { connectionString: await getDatabaseUrl(), auth: false, runtime: { batchSize: 0 } })
  await t.rejects(async () => { await app.ready() },
    { message: /'runtime.batchSize'/ })
})

t.test('registering twice on one instance is refused', async (t) => {
  const { app, pool, schema } = await bareApp(t, 2)
  app.register(observerPlugin, { pool, schema, auth: false, runtime: { start: false } })
  app.register(observerPlugin, { pool, schema, auth: false, runtime: { start: false } })
  await t.rejects(async () => { await app.ready() }, { message: /already registered/ })
})

t.test('a passed-in pool is left open on close; an owned one is closed', async (t) => {
  const url = await getDatabaseUrl()
  const schema = uniqueSchema()
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  t.teardown(async () => {
    await pool.query(`drop schema if exists "${schema}" cascade`)
    await pool.end()
  })
  const withPool = Fastify()
  await withPool.register(observerPlugin, { pool, schema, auth: false })
  await withPool.ready()
  await withPool.close()
  const { rows } = await pool.query('select 1 as one')
  t.equal(rows[0].one, 1, 'the caller\'s pool still works after close')

  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  const withDb = Fastify()
  await withDb.register(observerPlugin, { db, schema, auth: false })
  await withDb.ready()
  t.equal((await withDb.inject({ url: '/observers/runtime/health' })).json().running, true, 'runs on a caller\'s Kysely')
  await withDb.close()
  t.equal((await pool.query('select 2 as two')).rows[0].two, 2, 'the caller\'s Kysely (and its pool) still work')

  const owned = Fastify()
  const appName = `observers-${schema}`
  await owned.register(observerPlugin, { connectionString: `${url}?application_name=${appName}`, schema, auth: false })
  await owned.ready()
  const countBefore = await connections(pool, appName)
  t.ok(countBefore >= 1, 'the owned pool holds connections while running')
  await owned.close()
  // a backend leaves pg_stat_activity a moment after its client disconnects
  t.equal(await eventually(async () => await connections(pool, appName) === 0 || undefined, 5000), true, 'close released every connection the plugin opened')
})

async function connections (pool: pg.Pool, applicationName: string): Promise<number> {
  const { rows } = await pool.query('select count(*)::int as n from pg_stat_activity where application_name = $1', [applicationName])
  return rows[0].n
}

t.test('the admin routes need the token; the host app is unaffected', async (t) => {
  const { app, pool, schema } = await bareApp(t, 4)
  app.get('/host', async () => ({ ok: true }))
  await app.register(observerPlugin, { pool, schema, auth: { tokens: [TOKEN] }, runtime: { start: false } })
  t.equal((await app.inject({ method: 'POST', url: '/observers/runtime/reload' })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/observers/runtime/reload', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode, 401)
  const ok = await app.inject({ method: 'POST', url: '/observers/runtime/reload', headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { message: 'reloaded 0 observers', count: 0 })
  t.same((await app.inject({ url: '/host' })).json(), { ok: true }, 'host routes need no token')
})
