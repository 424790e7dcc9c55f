import t from 'tap'
import { build, eventually } from '../helper.js'
import { insertChanges } from '../helpers/rows.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { call, createObserver } from '../helpers/routes.js'

t.test('delivery health: retries scheduled, dead letters, age of the oldest pending delivery', async (t) => {
  const sink = await startHttpTarget(t)
  sink.respond = (req, res) => { res.writeHead(req.url === '/busy' ? 503 : 400, req.url === '/busy' ? { 'retry-after': '30' } : {}).end() }
  const { app, pool, schema } = await build(t)
  const empty = await call(app, 'GET', '/delivery/health')
  t.equal(empty.statusCode, 200)
  t.same(empty.json(), { in_flight: 0, retries_scheduled: 0, retries_due: 0, next_retry_at: null, dead_letters: 0, oldest_pending_age_seconds: 0 })

  await createObserver(app, { entity_type: 'busy', actions: [{ type: 'webhook', url: `${sink.url}/busy` }] })
  await createObserver(app, { entity_type: 'broken', actions: [{ type: 'webhook', url: `${sink.url}/broken` }] })
  await insertChanges(pool, schema, 1, 'busy')
  await insertChanges(pool, schema, 1, 'broken')
  const health = await eventually(async () => {
    const h = (await call(app, 'GET', '/delivery/health')).json()
    return h.retries_scheduled === 1 && h.dead_letters === 1 ? h : undefined
  }, 10_000, 'a retry and a dead letter')
  t.equal(health.retries_due, 0, 'the retry waits')
  const wait = (Date.parse(health.next_retry_at) - Date.now()) / 1000
  t.ok(wait > 27 && wait <= 31, `for the 30 s the endpoint asked (${wait} s)`)
  t.ok(health.oldest_pending_age_seconds < 3, `owed since its failure a moment ago (${health.oldest_pending_age_seconds} s)`)
  // the batch leaves the pipeline just after its commit, which the health above already saw
  t.equal(await eventually(async () => (await call(app, 'GET', '/delivery/health')).json().in_flight === 0, 10_000, 'nothing in flight'), true, 'nothing in flight once the batch settled')

  // 30 s later, as far as the database can tell: the retry has been owed for 30 s
  await pool.query(`update "${schema}".tb_observer_retry set first_failed_at = first_failed_at - interval '30 seconds'`)
  const later = (await call(app, 'GET', '/delivery/health')).json()
  t.ok(later.oldest_pending_age_seconds >= 30 && later.oldest_pending_age_seconds < 34, `owed for 30 s (${later.oldest_pending_age_seconds} s)`)
})

t.test('reload answers the observers loaded; metrics are Prometheus text behind the token', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  await createObserver(app)
  await createObserver(app, { enabled: false })
  t.same((await call(app, 'POST', '/runtime/reload')).json(), { message: 'reloaded 1 observers', count: 1 })
  const metrics = await call(app, 'GET', '/metrics')
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(metrics.body, /# TYPE observers_actions_total counter/)
  t.match(metrics.body, /observers_dead_letters \d+/)
  t.equal((await app.inject({ url: '/observers/metrics' })).statusCode, 401)
})
