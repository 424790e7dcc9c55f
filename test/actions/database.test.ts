import t from 'tap'
import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import { databaseAction } from '../../lib/actions/database.js'
import { testPool } from '../helpers/pg.js'
import { sampleEnvelope, testContext, testServices } from '../helpers/action-context.js'
import { closedPort } from '../helpers/ports.js'

const event = sampleEnvelope()

// Functions in a fresh schema: one records its arguments, the others fail in the ways that matter.
async function setup (t: Parameters<typeof testPool>[0]) {
  const { pool, schema } = await testPool(t)
  await pool.query(`
    create schema "${schema}";
    create table "${schema}".calls (event jsonb, params jsonb);
    create function "${schema}".record_event(event jsonb, params jsonb) returns jsonb language sql as $$
      insert into "${schema}".calls values (event, params);
      select jsonb_build_object('entity', event->>'entity_id', 'mode', params->>'mode');
    $$;
    create function "${schema}".slow(event jsonb, params jsonb) returns void language sql as $$ select pg_sleep(10) $$;
    create function "${schema}".fails(event jsonb, params jsonb) returns void language plpgsql as $$
      begin raise exception 'order % is locked', event->>'entity_id'; end
    $$;
    create function "${schema}"."MixedCase"(event jsonb, params jsonb) returns text language sql as $$ select 'mixed' $$;
  `)
  // The test pool is ended by testPool's teardown, so this Kysely is not destroyed separately.
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  return { pool, schema, services: testServices({ db }) }
}

t.test('calls the function with the event and the params', async t => {
  const { pool, schema, services } = await setup(t)
  const outcome = await databaseAction.run(event, { type: 'database', function_name: `${schema}.record_event`, params: { mode: 'sync' } }, testContext(services))
  t.match(outcome, { ok: true })
  t.same(outcome.ok && JSON.parse(outcome.response ?? ''), { mode: 'sync', entity: '42' }, 'the result is kept')
  const { rows } = await pool.query(`select event, params from "${schema}".calls`)
  t.same(rows, [{ event, params: { mode: 'sync' } }])
})

t.test('params default to an empty object; names are matched as written', async t => {
  const { pool, schema, services } = await setup(t)
  const outcome = await databaseAction.run(event, { type: 'database', function_name: `${schema}.record_event` }, testContext(services))
  t.same(outcome.ok && JSON.parse(outcome.response ?? ''), { mode: null, entity: '42' })
  t.same((await pool.query(`select params from "${schema}".calls`)).rows, [{ params: {} }])
  t.same(await databaseAction.run(event, { type: 'database', function_name: `${schema}.MixedCase` }, testContext(services)), { ok: true, response: '"mixed"' })
})

t.test('a function or schema that does not exist is permanent', async t => {
  const { schema, services } = await setup(t)
  t.match(await databaseAction.run(event, { type: 'database', function_name: `${schema}.nope` }, testContext(services)),
    { ok: false, kind: 'permanent', code: 'SQL_42883', message: /function .*nope\(jsonb, jsonb\) does not exist/ })
  t.match(await databaseAction.run(event, { type: 'database', function_name: 'no_such_schema.fn' }, testContext(services)),
    { ok: false, kind: 'permanent', code: 'SQL_3F000' })
  t.match(await databaseAction.run(event, { type: 'database', function_name: `${schema}.mixedcase` }, testContext(services)),
    { ok: false, kind: 'permanent', code: 'SQL_42883' }, 'quoted identifiers are case-sensitive')
})

t.test('an error raised by the function is transient', async t => {
  const { schema, services } = await setup(t)
  t.same(await databaseAction.run(event, { type: 'database', function_name: `${schema}.fails` }, testContext(services)),
    { ok: false, kind: 'transient', code: 'SQL_P0001', message: 'order 42 is locked' })
})

t.test('the timeout stops the function in Postgres and leaves the connection as it was', async t => {
  const { pool, schema, services } = await setup(t)
  const started = Date.now()
  const outcome = await databaseAction.run(event, { type: 'database', function_name: `${schema}.slow`, timeout_ms: 200 }, testContext(services))
  t.match(outcome, { ok: false, kind: 'transient', code: 'TIMEOUT', timedOut: true, message: /statement timeout/ })
  t.ok(Date.now() - started < 5000, 'did not wait for the 10 s sleep')
  const settings = await Promise.all(Array.from({ length: 3 }, async () => (await pool.query('show statement_timeout')).rows[0].statement_timeout))
  t.same(settings, ['0', '0', '0'], 'SET LOCAL did not outlive the call')
})

t.test('an unreachable database is a transient NETWORK failure', async t => {
  const port = await closedPort()
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: `postgres://nobody@127.0.0.1:${port}/none` }) }) })
  t.teardown(() => db.destroy())
  t.match(await databaseAction.run(event, { type: 'database', function_name: 'fn' }, testContext(testServices({ db }))),
    { ok: false, kind: 'transient', code: 'NETWORK', message: /ECONNREFUSED/ })
})

t.test('render shows the call without making it', async t => {
  const rendered = await databaseAction.render(event, { type: 'database', function_name: 'app.on_order', params: { a: 1 } }, testContext(testServices()))
  t.same(rendered, { method: 'SQL', url: null, headers: {}, body: { statement: 'select app.on_order($1::jsonb, $2::jsonb)', parameters: [event, { a: 1 }] } })
})
