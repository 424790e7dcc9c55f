import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, eventually } from '../helper.js'
import { startHttpTarget, type Received } from '../helpers/http-target.js'
import { call, createObserver } from '../helpers/routes.js'

const insertOrders = async (pool: any, schema: string, ids: string[], age = '0 seconds'): Promise<string[]> => {
  const { rows } = await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data, created_at)
    select 'orders', i, 'INSERT', jsonb_build_object('n', i), now() - $2::interval from unnest($1::text[]) with ordinality as u(i, o) order by o
    returning pk_entity_change_log::text as id`, [ids, age])
  return rows.map((r: any) => r.id)
}

const jobDone = async (app: FastifyInstance, id: string): Promise<any> => await eventually(async () => {
  const job = (await call(app, 'GET', `/jobs/${id}`)).json()
  return job.status === 'done' ? job : undefined
}, 20_000, `job ${id} done`)

const byObserver = (received: Received[], name: string) => received.filter((r) => r.json?.observer?.name === name)

t.test('a replay of a time window reaches one observer and no other, in commit order, with the same webhook-ids', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  const a = await createObserver(app, { name: 'a', entity_type: 'orders', actions: [{ type: 'webhook', url: sink.url }] })
  await createObserver(app, { name: 'b', entity_type: 'orders', actions: [{ type: 'webhook', url: sink.url }] })
  await insertOrders(pool, schema, ['old-1', 'old-2'], '2 hours')
  await insertOrders(pool, schema, ['w-1', 'w-2', 'w-3'], '30 minutes')
  await insertOrders(pool, schema, ['new-1'])
  await sink.waitFor(12)
  const firstIds = new Map(byObserver(sink.received, 'a').map((r) => [r.json.entity_id, r.headers['webhook-id']]))

  const since = new Date(Date.now() - 3600_000).toISOString()
  const until = new Date(Date.now() - 600_000).toISOString()
  const dry = await call(app, 'POST', `/${a.id}/replay`, { since, until, dry_run: true })
  t.same([dry.statusCode, dry.json()], [200, { total: 3 }], 'the dry run counts the window')
  const res = await call(app, 'POST', `/${a.id}/replay`, { since, until })
  t.equal(res.statusCode, 202)
  const job = await jobDone(app, res.json().job_id)
  t.match(job, { kind: 'replay', status: 'done', observer_id: a.id, total: 3, done: 3, failed: 0, error: null })
  const replayed = sink.received.slice(12)
  t.same(replayed.map((r) => r.json.entity_id), ['w-1', 'w-2', 'w-3'], 'the window, in commit order')
  t.same(byObserver(replayed, 'b'), [], 'the other observer receives nothing')
  for (const r of replayed) t.equal(r.headers['webhook-id'], firstIds.get(r.json.entity_id), `${r.json.entity_id} keeps its webhook-id`)

  const listed = (await call(app, 'GET', `/jobs?observer_id=${a.id}&status=done`)).json()
  t.same(listed.data.map((j: any) => j.id), [job.id])
  t.same((await call(app, 'GET', '/jobs?kind=backfill')).json().data, [])
})

t.test('only_failed re-sends only what failed; dry_run sends nothing', async (t) => {
  let failing = true
  const sink = await startHttpTarget(t, (req, res) => {
    res.writeHead(failing && req.json?.entity_id === 'bad' ? 400 : 200).end()
  })
  const { app, pool, schema } = await build(t)
  const o = await createObserver(app, { name: 'o', entity_type: 'orders', retry_config: { max_attempts: 1 }, actions: [{ type: 'webhook', url: sink.url }] })
  await insertOrders(pool, schema, ['ok-1', 'bad', 'ok-2'])
  await sink.waitFor(3)
  await eventually(async () => (await call(app, 'GET', '/dlq')).json().data.length === 1 || undefined, 10_000, 'the failure is dead-lettered')
  const dry = await call(app, 'POST', `/${o.id}/replay`, { after_cursor: 0, only_failed: true, dry_run: true })
  t.same(dry.json(), { total: 1 }, 'only the failed event is counted')
  t.equal(sink.received.length, 3, 'a dry run sends nothing')
  t.same((await call(app, 'GET', '/jobs')).json().data, [], 'and creates no job')
  failing = false
  const res = await call(app, 'POST', `/${o.id}/replay`, { after_cursor: 0, only_failed: true })
  await jobDone(app, res.json().job_id)
  t.same(sink.received.slice(3).map((r) => r.json.entity_id), ['bad'], 'the redrive re-sent only the failure')
  t.equal(sink.received[3].headers['webhook-id'], sink.received[1].headers['webhook-id'])
  const again = await call(app, 'POST', `/${o.id}/replay`, { after_cursor: 0, only_failed: true, dry_run: true })
  t.same(again.json(), { total: 0 }, 'once it succeeded, nothing is left to redrive')
})

t.test('replay requests are validated', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const o = await createObserver(app, { entity_type: 'orders' })
  const bad = async (body: object, message: RegExp): Promise<void> => {
    const res = await call(app, 'POST', `/${o.id}/replay`, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json(), { code: 'OBS_ERR_VALIDATION', message })
  }
  await bad({ since: '2026-01-01T00:00:00Z', after_cursor: '0' }, /not both/)
  await bad({ since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }, /until must be later than since/)
  await bad({ after_cursor: '424242' }, /no change-log row has id 424242/)
  await bad({ after_cursor: 'x' }, /after_cursor/)
  await bad({ nope: 1 }, /nope/)
  t.equal((await call(app, 'POST', '/00000000-0000-0000-0000-000000000000/replay', {})).statusCode, 404)
  await call(app, 'POST', `/${o.id}/disable`)
  t.match((await call(app, 'POST', `/${o.id}/replay`, {})).json(), { statusCode: 409, message: /disabled/ })
  t.equal((await call(app, 'GET', '/jobs/00000000-0000-0000-0000-000000000000')).statusCode, 404)
})

t.test('an ordered observer\'s replay runs one key at a time; behind a failing event the rest of its key is parked and released in order', async (t) => {
  let failing = false
  const sink = await startHttpTarget(t, (req, res) => {
    res.writeHead(failing && req.json?.entity_id === 'k1' ? 503 : 200).end()
  })
  const { app, pool, schema } = await build(t)
  const o = await createObserver(app, {
    entity_type: 'orders', ordering: 'entity', retry_config: { max_attempts: 5, initial_delay_ms: 100, max_delay_ms: 200 }, actions: [{ type: 'webhook', url: sink.url }]
  })
  const { rows } = await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select 'orders', k, 'UPDATE', jsonb_build_object('n', n) from (values ('k1', 1), ('k2', 1), ('k1', 2), ('k1', 3)) v(k, n) returning pk_entity_change_log::text as id`)
  t.equal(rows.length, 4)
  await sink.waitFor(4)
  failing = true
  const res = await call(app, 'POST', `/${o.id}/replay`, { after_cursor: 0 })
  const job = await jobDone(app, res.json().job_id)
  t.match(job, { done: 4, failed: 1 })
  const parked = await pool.query(`select event->'data'->>'n' as n from "${schema}".tb_observer_parked order by pk_observer_parked`)
  t.same(parked.rows.map((r) => r.n), ['2', '3'], 'the rest of the failing key waits, in order')
  failing = false
  await eventually(() => sink.received.slice(4).some((r) => r.json.entity_id === 'k1' && r.json.data.n === 3) || undefined, 20_000, 'the key is released')
  const k1 = sink.received.slice(4).filter((r) => r.json.entity_id === 'k1' && r.json !== undefined).map((r) => r.json.data.n)
  t.same(k1.filter((n, i) => n !== k1[i + 1]), [1, 2, 3], 'the key\'s replayed events arrived in commit order, the first retried until it succeeded')
  t.same(sink.received.slice(4).filter((r) => r.json.entity_id === 'k2').map((r) => r.json.data.n), [1], 'the other key went at once')
})
