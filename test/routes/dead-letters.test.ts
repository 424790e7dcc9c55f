import t, { type Test } from 'tap'
import type pg from 'pg'
import type { FastifyRequest } from 'fastify'
import { build, eventually } from '../helper.js'
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js'
import { INJECTIONS, call, createObserver } from '../helpers/routes.js'

const MISSING = '00000000-0000-4000-8000-000000000000'

/** A sink that refuses (400: permanent, dead-lettered at once) until `healthy` is set. */
async function failingSink (t: Test): Promise<HttpTarget & { healthy: boolean }> {
  const sink = Object.assign(await startHttpTarget(t), { healthy: false })
  sink.respond = (_req, res) => { res.writeHead(sink.healthy ? 200 : 400).end() }
  return sink
}

async function insertEvents (pool: pg.Pool, schema: string, rows: Array<[string, string, string | null]>): Promise<void> {
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data, tenant_id)
    select r->>0, r->>1, 'INSERT', '{}', r->>2 from jsonb_array_elements($1::jsonb) r`, [JSON.stringify(rows)])
}

t.test('dead letters: list with filters and pages, stats, inspect, delete', async (t) => {
  const sink = await failingSink(t)
  const { app, pool, schema } = await build(t)
  const orders = await createObserver(app, { name: 'orders-hook', entity_type: 'orders', actions: [{ type: 'webhook', url: `${sink.url}/o` }] })
  const users = await createObserver(app, { name: 'users-hook', entity_type: 'users', actions: [{ type: 'webhook', url: `${sink.url}/u` }] })
  await insertEvents(pool, schema, [['orders', '1', null], ['orders', '2', null], ['orders', '3', null], ['users', '1', null], ['users', '2', null]])
  const all = await eventually(async () => {
    const page = (await call(app, 'GET', '/dlq?limit=500')).json()
    return page.data.length === 5 ? page : undefined
  }, 10_000, 'five dead letters')
  t.match(all.data[0], {
    id: /^[0-9a-f-]{36}$/,
    observer_name: /-hook$/,
    event_type: 'INSERT',
    action_index: 0,
    action_type: 'webhook',
    error_code: 'HTTP_400',
    attempts: 1,
    change_log_id: /^\d+$/
  })

  const p1 = (await call(app, 'GET', '/dlq?limit=2')).json()
  const p2 = (await call(app, 'GET', `/dlq?limit=2&cursor=${p1.next_cursor}`)).json()
  const p3 = (await call(app, 'GET', `/dlq?limit=2&cursor=${p2.next_cursor}`)).json()
  t.equal(p3.next_cursor, null)
  t.same([...p1.data, ...p2.data, ...p3.data].map((d: any) => d.id), all.data.map((d: any) => d.id), 'disjoint pages, newest first')
  t.equal((await call(app, 'GET', `/dlq?observer_id=${users.id}`)).json().data.length, 2)
  t.equal((await call(app, 'GET', '/dlq?entity_type=orders')).json().data.length, 3)
  t.equal((await call(app, 'GET', '/dlq?action_type=email')).json().data.length, 0)
  for (const value of INJECTIONS) {
    for (const field of ['entity_type', 'action_type']) {
      const res = await call(app, 'GET', `/dlq?${field}=${encodeURIComponent(value)}`)
      t.same([res.statusCode, res.json().data], [200, []], `${field}=${value}`)
    }
  }
  for (const query of ['limit=501', 'cursor=zzz', 'observer_id=1', 'priority=1']) t.equal((await call(app, 'GET', `/dlq?${query}`)).statusCode, 400, query)

  const stats = (await call(app, 'GET', '/dlq/stats')).json()
  t.same(stats, {
    total: 5,
    by_action_type: [{ action_type: 'webhook', count: 5 }],
    by_observer: [{ observer_id: orders.id, observer_name: 'orders-hook', count: 3 }, { observer_id: users.id, observer_name: 'users-hook', count: 2 }]
  })
  t.equal((await call(app, 'GET', '/dlq/stats?entity_type=users')).json().total, 2)

  const item = all.data[0]
  const detail = await call(app, 'GET', `/dlq/${item.id}`)
  t.equal(detail.statusCode, 200)
  t.match(detail.json(), { ...item, event: { event_id: item.event_id, entity_id: item.entity_id, event_type: 'INSERT' } })
  t.equal((await call(app, 'GET', `/dlq/${MISSING}`)).statusCode, 404)
  t.equal((await call(app, 'GET', '/dlq/nope')).json().code, 'OBS_ERR_INVALID_ID')
  t.equal((await call(app, 'DELETE', `/dlq/${item.id}`)).statusCode, 204)
  t.equal((await call(app, 'DELETE', `/dlq/${item.id}`)).statusCode, 404)
  t.equal((await call(app, 'GET', `/dlq/${item.id}`)).statusCode, 404)
  t.equal((await call(app, 'GET', '/dlq/stats')).json().total, 4)
  t.equal((await pool.query(`select count(*)::int as n from "${schema}".tb_observer_dead_letter`)).rows[0].n, 4, 'the table is intact')
})

t.test('retry one: failed again, then delivered; concurrent retries run it once', async (t) => {
  const sink = await failingSink(t)
  const { app, pool, schema } = await build(t)
  await createObserver(app, { entity_type: 'orders', actions: [{ type: 'webhook', url: sink.url }] })
  await insertEvents(pool, schema, [['orders', '1', null]])
  const [item] = await eventually(async () => {
    const { data } = (await call(app, 'GET', '/dlq')).json()
    return data.length === 1 ? data : undefined
  }, 10_000, 'a dead letter')

  const again = await call(app, 'POST', `/dlq/${item.id}/retry`)
  t.equal(again.statusCode, 200)
  t.match(again.json(), { id: item.id, status: 'failed', error_message: /400/ })
  t.equal((await call(app, 'GET', `/dlq/${item.id}`)).json().attempts, 2, 'it stays, with one more attempt')

  // the target holds its answer until the second retry has been refused, so the two surely overlap
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  sink.respond = (_req, res) => { held.then(() => res.writeHead(200).end(), () => {}) }
  const before = sink.received.length
  const calls = [call(app, 'POST', `/dlq/${item.id}/retry`), call(app, 'POST', `/dlq/${item.id}/retry`)]
  const refused = await Promise.race(calls)
  release()
  const [first, second] = await Promise.all(calls)
  t.same([first.statusCode, second.statusCode].sort(), [200, 409], 'one runs, the other is refused')
  t.match(refused.json(), { statusCode: 409, code: 'OBS_ERR_CONFLICT', message: /already being retried/ })
  t.same((first.statusCode === 200 ? first : second).json(), { id: item.id, status: 'delivered' })
  t.equal(sink.received.length - before, 1, 'exactly one request reached the target')
  t.equal((await call(app, 'GET', `/dlq/${item.id}`)).statusCode, 404, 'a delivered item is removed')
  t.equal((await call(app, 'POST', `/dlq/${item.id}/retry`)).statusCode, 404)
  const logs = (await call(app, 'GET', `/logs?event_id=${item.event_id}&status=success`)).json()
  t.equal(logs.data.length, 1, 'the success is logged')
})

t.test('retry all, optionally filtered, reports the counts', async (t) => {
  const sink = await failingSink(t)
  const { app, pool, schema } = await build(t)
  const orders = await createObserver(app, { entity_type: 'orders', actions: [{ type: 'webhook', url: `${sink.url}/o` }] })
  await createObserver(app, { entity_type: 'users', actions: [{ type: 'webhook', url: `${sink.url}/u` }] })
  await insertEvents(pool, schema, [['orders', '1', null], ['orders', '2', null], ['users', '1', null]])
  await eventually(async () => (await call(app, 'GET', '/dlq/stats')).json().total === 3 || undefined, 10_000, 'three dead letters')

  t.same((await call(app, 'POST', '/dlq/retry-all', { entity_type: 'users' })).json(), { retried: 1, delivered: 0, failed: 1 })
  sink.healthy = true
  const filtered = await call(app, 'POST', '/dlq/retry-all', { observer_id: orders.id, action_type: 'webhook' })
  t.equal(filtered.statusCode, 200)
  t.same(filtered.json(), { retried: 2, delivered: 2, failed: 0 })
  t.same((await call(app, 'POST', '/dlq/retry-all', {})).json(), { retried: 1, delivered: 1, failed: 0 })
  t.same((await call(app, 'POST', '/dlq/retry-all', {})).json(), { retried: 0, delivered: 0, failed: 0 })
  const bad = await call(app, 'POST', '/dlq/retry-all', { status: 'failed' })
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { message: 'body/status is not an allowed property' })
})

t.test('a tenant sees and retries only the dead letters of its own events', async (t) => {
  const sink = await failingSink(t)
  const tenant = (request: FastifyRequest): string | null => typeof request.headers['x-tenant'] === 'string' ? request.headers['x-tenant'] : null
  const { app, pool, schema } = await build(t, { tenant })
  await createObserver(app, { entity_type: 'orders', actions: [{ type: 'webhook', url: sink.url }] })
  await insertEvents(pool, schema, [['orders', '1', 'acme'], ['orders', '2', 'globex']])
  await eventually(async () => (await pool.query(`select count(*)::int as n from "${schema}".tb_observer_dead_letter`)).rows[0].n === 2 || undefined)
  const acme = (await call(app, 'GET', '/dlq', undefined, { 'x-tenant': 'acme' })).json().data
  t.same(acme.map((d: any) => d.entity_id), ['1'])
  const globex = (await call(app, 'GET', '/dlq', undefined, { 'x-tenant': 'globex' })).json().data
  const foreign = globex[0].id
  for (const [method, url] of [['GET', `/dlq/${foreign}`], ['DELETE', `/dlq/${foreign}`], ['POST', `/dlq/${foreign}/retry`]] as const) {
    t.equal((await call(app, method, url, undefined, { 'x-tenant': 'acme' })).statusCode, 404, `${method} ${url}`)
  }
  t.equal((await call(app, 'GET', '/dlq/stats', undefined, { 'x-tenant': 'acme' })).json().total, 1)
  t.same((await call(app, 'POST', '/dlq/retry-all', {}, { 'x-tenant': 'acme' })).json(), { retried: 1, delivered: 0, failed: 1 })
  t.equal((await call(app, 'GET', `/dlq/${foreign}`, undefined, { 'x-tenant': 'globex' })).json().attempts, 1, 'the other tenant\'s item was not retried')
})
