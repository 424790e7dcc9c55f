import t from 'tap'
import Fastify from 'fastify'
import observerPlugin from '../../index.js'
import { getDatabaseUrl } from '../helpers/pg.js'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'

t.test('a database failure while committing is logged and counted; reading resumes and nothing is lost', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await pool.query(`alter table "${schema}".tb_observer_log rename to tb_observer_log_away`)
  await insertChanges(pool, schema, 2)
  await eventually(async () => (await app.observers.health()).errors > 0 || undefined, 10_000, 'the failure is counted')
  const health = await app.observers.health()
  t.match(health.last_error, /tb_observer_log/, 'the error names what failed')
  t.equal(health.status, 'degraded')
  const { rows: [cp] } = await pool.query(`select last_change_log_id::text as id, last_error from "${schema}".observer_checkpoints`)
  t.equal(cp.id, '0', 'the checkpoint did not move past undelivered-and-unrecorded events')
  t.match(cp.last_error, /tb_observer_log/)
  await pool.query(`alter table "${schema}".tb_observer_log_away rename to tb_observer_log`)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 2 || undefined, 10_000, 'recovery')
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 2, 'both events delivered (at least once)')
})

t.test('a commit failing while later batches are still being read is handled; nothing is lost', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { batchSize: 1, pollIntervalMs: 10 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await pool.query(`alter table "${schema}".tb_observer_log rename to tb_observer_log_away`)
  await insertChanges(pool, schema, 20)
  await eventually(async () => (await app.observers.health()).errors > 2 || undefined, 10_000, 'failures counted')
  await pool.query(`alter table "${schema}".tb_observer_log_away rename to tb_observer_log`)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") >= 20 || undefined, 10_000, 'recovery')
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 20, 'every event delivered (at least once)')
})

t.test('a retry whose observer was disabled meanwhile is dropped and logged as cancelled', async (t) => {
  const sink = await startHttpTarget(t)
  sink.respond = (_req, res) => { res.writeHead(503).end() }
  const { app, pool, schema } = await build(t)
  const id = await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }], retry_config: { initial_delay_ms: 500, jitter: false } })
  await app.observers.reload()
  await insertChanges(pool, schema, 1)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 1 || undefined)
  await pool.query(`update "${schema}".tb_observer set enabled = false where id = $1`, [id])
  await eventually(async () => (await app.observers.health()).observer_count === 0 || undefined)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 0 || undefined, 10_000, 'the retry is dropped')
  const { rows } = await pool.query(`select status, error_code from "${schema}".tb_observer_log order by pk_observer_log`)
  t.same(rows, [{ status: 'failed', error_code: 'HTTP_503' }, { status: 'cancelled', error_code: 'OBSERVER_DISABLED' }])
  t.equal(sink.received.length, 1, 'the disabled observer is not called again')
})

t.test('connections terminated by the server mid-backlog do not crash the host; delivery resumes', async (t) => {
  const sink = await startHttpTarget(t)
  const { pool, schema } = await build(t, { runtime: { start: false } })
  const appName = `observers-kill-${schema}`
  const url = new URL(await getDatabaseUrl())
  url.searchParams.set('application_name', appName)
  const app = Fastify({ logger: false })
  t.teardown(async () => { await app.close() })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await insertChanges(pool, schema, 2000)
  await app.register(observerPlugin, { connectionString: url.toString(), schema, auth: false, network: { allowPrivate: true }, runtime: { pollIntervalMs: 20 } })
  await app.ready()
  await sink.waitFor(100)
  const { rows } = await pool.query('select pg_terminate_backend(pid) as ok from pg_stat_activity where application_name = $1', [appName])
  t.ok(rows.length > 0, `terminated ${rows.length} connections of the plugin`)
  await eventually(() => new Set(sink.received.map((r) => r.json.event_id)).size === 2000 || undefined, 30_000, 'every event delivered')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") >= 2000 || undefined, 10_000)
  t.pass('the host process survived and every event was delivered')
})

t.test('a dead letter is warned once in the host log, with its ids; failed attempts only at debug', async (t) => {
  const sink = await startHttpTarget(t)
  sink.respond = (_req, res) => { res.writeHead(500).end() }
  const { pool, schema } = await build(t, { runtime: { start: false } })
  const lines: Array<Record<string, unknown>> = []
  const stream = { write: (line: string) => { lines.push(JSON.parse(line)) } }
  const app = Fastify({ logger: { level: 'info', stream } })
  t.teardown(async () => { await app.close() })
  const id = await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }], retry_config: { max_attempts: 2, initial_delay_ms: 10, jitter: false } })
  await app.register(observerPlugin, { pool, schema, auth: false, network: { allowPrivate: true }, runtime: { pollIntervalMs: 20 } })
  await app.ready()
  const [event] = await insertChanges(pool, schema, 1)
  await eventually(() => lines.find((l) => l.msg !== undefined && String(l.msg).startsWith('action dead-lettered')), 10_000, 'the warning')
  const warnings = lines.filter((l) => l.level === 40)
  t.equal(warnings.length, 1, 'one warning for two failed attempts')
  t.match(warnings[0], { observer_id: id, action_index: 0, code: 'HTTP_500', msg: /action dead-lettered/ })
  const { rows: [row] } = await pool.query(`select event_id from "${schema}".tb_observer_dead_letter`)
  t.equal(warnings[0].event_id, row.event_id, 'the warning names the event')
  t.ok(event)
})
