// A register that fails part-way hands the host a coded error and leaves no connection open.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import observerPlugin, { type ObserverPluginOptions } from '../index.js'
import { eventually } from './helper.js'
import { getDatabaseUrl, uniqueSchema } from './helpers/pg.js'

interface Setup {
  app: FastifyInstance
  pool: pg.Pool
  schema: string
  options: ObserverPluginOptions
  connections: () => Promise<number>
}

// the plugin's own pool, told apart in pg_stat_activity by an application_name of its own
async function setup (t: Test): Promise<Setup> {
  const url = await getDatabaseUrl()
  const schema = uniqueSchema()
  const appName = `register-failure-${schema}`
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  const app = Fastify({ logger: false })
  t.teardown(async () => {
    await app.close()
    await pool.query(`drop schema if exists "${schema}" cascade`)
    await pool.end()
  })
  const connections = async (): Promise<number> => {
    const { rows } = await pool.query('select count(*)::int as n from pg_stat_activity where application_name = $1', [appName])
    return rows[0].n
  }
  const options: ObserverPluginOptions = { connectionString: `${url}?application_name=${appName}`, schema, auth: false }
  return { app, pool, schema, options, connections }
}

async function migrated (pool: pg.Pool, schema: string): Promise<boolean> {
  const { rows } = await pool.query('select 1 from information_schema.tables where table_schema = $1 and table_name = $2', [schema, 'kysely_migration'])
  return rows.length === 1
}

// a backend leaves pg_stat_activity a moment after its client disconnects
async function noneLeft (t: Test, connections: () => Promise<number>): Promise<void> {
  t.equal(await eventually(async () => await connections() === 0 || undefined, 5000, 'the plugin\'s connections to close'), true,
    'every connection the plugin opened is closed')
}

t.test('a custom action named like a built-in one: OBS_ERR_ACTION_NAME_TAKEN, after migrations, nothing left open', async (t) => {
  const { app, pool, schema, options, connections } = await setup(t)
  app.register(observerPlugin, { ...options, actions: { webhook: async () => {} } })
  await t.rejects(async () => { await app.ready() }, {
    code: 'OBS_ERR_ACTION_NAME_TAKEN',
    message: "custom action 'webhook' clashes with the built-in action of that name; choose another name"
  })
  t.ok(await migrated(pool, schema), 'the migrations ran first: the pool had connected')
  await noneLeft(t, connections)
})

t.test('a migration that fails: OBS_ERR_MIGRATION_FAILED with the cause, nothing left open', async (t) => {
  const { app, pool, schema, options, connections } = await setup(t)
  // a table of that name already there makes the first migration fail
  await pool.query(`create schema "${schema}"; create table "${schema}".tb_observer (x int)`)
  app.register(observerPlugin, options)
  const err = await app.ready().then(() => null, (e: unknown) => e as Error & { code?: string, cause?: { code?: string } })
  t.match(err, { code: 'OBS_ERR_MIGRATION_FAILED', message: /^fastify-observers: migration 001-initial failed in schema "t_[0-9a-f]+": relation "tb_observer" already exists$/ })
  t.equal(err?.cause?.code, '42P07', 'the database error is the cause')
  await noneLeft(t, connections)
})

t.test('admin routes that clash with the host\'s: OBS_ERR_ADMIN_ROUTES, nothing left open', async (t) => {
  const { app, pool, schema, options, connections } = await setup(t)
  app.get('/observers/runtime/health', async () => ({ mine: true }))
  app.register(observerPlugin, options)
  await t.rejects(async () => { await app.ready() }, { code: 'OBS_ERR_ADMIN_ROUTES', message: /^fastify-observers: the admin API cannot be registered under "\/observers": .*already declared/ })
  t.ok(await migrated(pool, schema), 'the migrations ran first: the pool had connected')
  await noneLeft(t, connections)
})

t.test('bad options and a second registration are refused with their codes before anything opens', async (t) => {
  const { app, options, connections } = await setup(t)
  await t.rejects(async () => { await Fastify({ logger: false }).register(observerPlugin, { ...options, runtime: { batchSize: 0 } }).ready() },
    { code: 'OBS_ERR_INVALID_OPTION', message: /^fastify-observers: invalid option 'runtime.batchSize'/ })
  app.register(observerPlugin, { ...options, migrate: false, runtime: { start: false } })
  app.register(observerPlugin, { ...options, migrate: false, runtime: { start: false } })
  await t.rejects(async () => { await app.ready() }, { code: 'OBS_ERR_ALREADY_REGISTERED', message: 'fastify-observers is already registered on this instance' })
  t.equal(await connections(), 0, 'no connection was ever opened')
})
