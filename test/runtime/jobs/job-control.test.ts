import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import { build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { insertChanges } from '../../helpers/rows.js'
import { call, createObserver } from '../../helpers/routes.js'

const job = async (app: FastifyInstance, id: string): Promise<any> => (await call(app, 'GET', `/jobs/${id}`)).json()
/** no worker holds the job: what it sent is what its committed steps counted */
const released = async (pool: pg.Pool, schema: string, id: string): Promise<boolean> =>
  (await pool.query(`select claimed_by is null as free from "${schema}".tb_observer_job where id = $1`, [id])).rows[0].free

t.test('a paused job stops after its step and resumes from its cursor; a cancelled one stops within a second', async (t) => {
  // a slow endpoint and one job slot (concurrency 4): the replay takes a while
  const sink = await startHttpTarget(t, (_req, res) => { setTimeout(() => res.writeHead(200).end(), 5) })
  const { app, pool, schema } = await build(t, { runtime: { concurrency: 4 } })
  const o = await createObserver(app, { entity_type: 'order', actions: [{ type: 'webhook', url: sink.url }] })
  const N = 300
  await insertChanges(pool, schema, N)
  await sink.waitFor(N, 20_000)

  const { job_id: id } = (await call(app, 'POST', `/${o.id}/replay`, { after_cursor: 0 })).json()
  await sink.waitFor(N + 20, 20_000)
  const paused = await call(app, 'POST', `/jobs/${id}/pause`)
  t.match(paused.json(), { id, status: 'paused' })
  await eventually(() => released(pool, schema, id), 10_000, 'the worker lets go of the paused job')
  const atPause = await job(app, id)
  t.ok(atPause.done < N, 'paused part-way')
  t.equal(sink.received.length - N, atPause.done, 'nothing was sent beyond the steps it committed')
  t.match((await call(app, 'POST', `/jobs/${id}/pause`)).json(), { statusCode: 409, message: /the job is paused: it cannot be paused/ })

  t.match((await call(app, 'POST', `/jobs/${id}/resume`)).json(), { status: 'queued' })
  const done = await eventually(async () => { const j = await job(app, id); return j.status === 'done' ? j : undefined }, 30_000, 'the job ends')
  t.match(done, { total: N, done: N, failed: 0 })
  t.ok(done.rate > 0, 'a rate is reported')
  const replayed = sink.received.slice(N).map((r) => r.json.entity_id)
  t.equal(replayed.length, N, 'each row replayed once across the pause')
  t.equal(new Set(replayed).size, N)
  t.match((await call(app, 'DELETE', `/jobs/${id}`)).json(), { statusCode: 409, message: /the job is done/ })

  const { job_id: second } = (await call(app, 'POST', `/${o.id}/replay`, { after_cursor: 0 })).json()
  await sink.waitFor(2 * N + 20, 20_000)
  t.match((await call(app, 'DELETE', `/jobs/${second}`)).json(), { status: 'cancelled' })
  await eventually(() => released(pool, schema, second), 1000, 'the worker stops the cancelled job')
  const cancelled = await job(app, second)
  t.match(cancelled, { status: 'cancelled' })
  t.ok(cancelled.finished_at !== null)
  t.equal(sink.received.length - 2 * N, cancelled.done, 'nothing is sent after the step in flight')
  t.ok(cancelled.done < N)
  t.match((await call(app, 'POST', `/jobs/${second}/resume`)).json(), { statusCode: 409 })
})

t.test('a replay to a slow endpoint keeps to its share of the slots; the live stream keeps the rest', async (t) => {
  let active = 0
  let most = 0
  const slow = await startHttpTarget(t, (_req, res) => {
    most = Math.max(most, ++active)
    setTimeout(() => { active--; res.writeHead(200).end() }, 200)
  })
  const live = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { concurrency: 8 } })
  const replayed = await createObserver(app, { name: 'replayed', entity_type: 'order', actions: [{ type: 'webhook', url: slow.url }] })
  await insertChanges(pool, schema, 20)
  await slow.waitFor(20, 20_000)
  t.ok(most > 2, 'the read path used more than a job\'s share')
  await eventually(() => active === 0, 10_000, 'the live deliveries end')
  most = 0
  const { job_id: id } = (await call(app, 'POST', `/${replayed.id}/replay`, { after_cursor: 0 })).json()
  await slow.waitFor(22, 10_000)
  await createObserver(app, { name: 'live', entity_type: 'payment', actions: [{ type: 'webhook', url: live.url }] })
  await insertChanges(pool, schema, 3, 'payment')
  await live.waitFor(3, 10_000)
  t.equal((await job(app, id)).status, 'running', 'live events were delivered while the replay still ran')
  t.equal(most, 2, 'the replay had at most a quarter of concurrency 8 in flight')
  await call(app, 'DELETE', `/jobs/${id}`)
})
