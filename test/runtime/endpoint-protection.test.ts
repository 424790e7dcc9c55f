// Endpoint protection (SPEC 9.3), end to end against real HTTP targets: the circuit breaker, the
// per-endpoint share of the slots, rate limits, 429 pauses, auto-disable and the operator's reset.
import t from 'tap'
import { build, eventually } from '../helper.js'
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'
import type pg from 'pg'

const failing = (status = 503) => (_req: unknown, res: import('node:http').ServerResponse) => { res.writeHead(status).end('down') }
// the observers watch 'order' only: the endpoint's own announcements (observers.endpoint) are events too
const RETRY = { max_attempts: 10, backoff_strategy: 'fixed', initial_delay_ms: 20, jitter: false }

async function endpointRow (pool: pg.Pool, schema: string, endpoint: string): Promise<{ state: string, cool_down_ms: number, paused_until: Date | null } | undefined> {
  const { rows } = await pool.query(`select state, cool_down_ms, paused_until from "${schema}".tb_observer_endpoint where endpoint = $1`, [endpoint])
  return rows[0]
}

async function announced (pool: pg.Pool, schema: string): Promise<Array<{ endpoint: string, state: string, observers: string[] }>> {
  const { rows } = await pool.query(`select object_data from "${schema}".tb_entity_change_log
    where object_type = 'observers.endpoint' and modification_type = 'CUSTOM' order by pk_entity_change_log`)
  return rows.map((r) => r.object_data)
}

const ids = (target: HttpTarget): Set<string> => new Set(target.received.map((r) => r.headers['webhook-id'] as string))

t.test('a failing endpoint opens its circuit after the threshold; while open nothing is attempted and no attempt is used', async (t) => {
  const target = await startHttpTarget(t, failing())
  const { app, pool, schema } = await build(t, { runtime: { circuitBreaker: { minAttempts: 5, failureRate: 0.7, coolDownMs: 60_000 } } })
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, actions: [{ type: 'webhook', url: target.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 20)
  await eventually(async () => (await endpointRow(pool, schema, target.url))?.state === 'open' || undefined, 20_000, 'the circuit open')
  // what was in flight when it opened ends; after that the endpoint hears nothing
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry', `endpoint = '${target.url}'`) === 20 || undefined, 20_000, 'all 20 waiting for the endpoint')
  const heard = target.received.length
  t.ok(heard >= 5 && heard < 20 + 8, `the endpoint heard the threshold's attempts, not one per event and retry (${heard})`)

  await insertChanges(pool, schema, 10)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry', `endpoint = '${target.url}'`) === 30 || undefined, 20_000, 'the later 10 waiting too')
  t.equal(target.received.length, heard, 'nothing more was sent while open')
  const { rows: later } = await pool.query(`select attempt_number, last_error from "${schema}".tb_observer_retry r
    where not exists (select from "${schema}".tb_observer_log l where l.event_id = r.event_id)`)
  t.ok(later.length >= 10, `the later events (and maybe some earlier ones) never had an attempt logged (${later.length})`)
  t.ok(later.every((r) => r.attempt_number === 1 && /circuit open/.test(r.last_error)), 'they wait as their first attempt, saying why')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0, 'nothing is dead-lettered for being down')
  t.match(await announced(pool, schema), [{ endpoint: target.url, state: 'opened' }])
  const [view] = await app.observers.endpoints.list()
  t.match(view, { endpoint: target.url, state: 'open', waiting: 30 })
  const metrics = (await app.observers.metrics.getSingleMetricAsString('observers_endpoint_state'))
  t.match(metrics, `observers_endpoint_state{endpoint="${target.url}"} 1`)
})

t.test('probes: a failed probe doubles the cool-down, a good one closes the circuit and everything waiting goes out', async (t) => {
  let up = false
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(up ? 200 : 503).end() })
  const { app, pool, schema } = await build(t, { runtime: { circuitBreaker: { minAttempts: 3, coolDownMs: 300, maxCoolDownMs: 60_000 } } })
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, actions: [{ type: 'webhook', url: target.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 10)
  await eventually(async () => (await endpointRow(pool, schema, target.url))?.state === 'open' || undefined, 20_000, 'the circuit open')
  const opened = await endpointRow(pool, schema, target.url)
  t.equal(opened?.cool_down_ms, 300)
  await eventually(async () => (await endpointRow(pool, schema, target.url))?.cool_down_ms === 600 || undefined, 20_000, 'a failed probe and a doubled cool-down')
  await eventually(async () => (await endpointRow(pool, schema, target.url))?.cool_down_ms === 1200 || undefined, 20_000, 'doubled again')

  up = true
  await eventually(async () => (await endpointRow(pool, schema, target.url))?.state === 'closed' || undefined, 20_000, 'closed by a good probe')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 10 || undefined, 20_000, 'all 10 delivered')
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0)
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
  t.match((await announced(pool, schema)).map((a) => a.state), ['opened', 'closed'])
})

t.test('a slow endpoint holds only its share of the slots: a fast one is not held up, and the slow one gets everything in the end', async (t) => {
  const fast = await startHttpTarget(t)
  const slow = await startHttpTarget(t, (_req, res) => { setTimeout(() => res.writeHead(200).end(), 1000) })
  const { pool, schema } = await build(t, { runtime: { concurrency: 16, maxInFlightPerEndpoint: 4, batchSize: 10 } })
  await insertObserver(pool, schema, { entity_type: 'order', priority: 1, actions: [{ type: 'webhook', url: slow.url }] })
  await insertObserver(pool, schema, { entity_type: 'order', priority: 2, actions: [{ type: 'webhook', url: fast.url }] })
  await insertChanges(pool, schema, 40)
  await fast.waitFor(40, 20_000)
  // unprotected, the slow endpoint takes every slot and the fast one waits its turn (40 slow answers first)
  t.ok(slow.received.length <= 12, `the slow endpoint had at most a few rounds of its 4 slots meanwhile (${slow.received.length})`)
  await eventually(() => ids(slow).size === 40 || undefined, 60_000, 'the slow endpoint got all 40')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
})

t.test('a rate limit holds across two instances', async (t) => {
  const target = await startHttpTarget(t)
  const first = await build(t, { runtime: { listenerId: 'a' } })
  const shared = { pool: first.pool, schema: first.schema }
  const second = await build(t, { runtime: { listenerId: 'b' } }, shared)
  await insertObserver(first.pool, first.schema, { entity_type: 'order', actions: [{ type: 'webhook', url: target.url, rate_limit: { per_second: 20 } }] })
  await first.app.observers.reload()
  await second.app.observers.reload()
  // each listener delivers every event; what one defers (busy while the rate holds it back) waits
  // under the same key as the other's, so between 30 and 60 requests reach the one endpoint
  await insertChanges(first.pool, first.schema, 30)
  await eventually(async () => {
    const { rows: [done] } = await first.pool.query(`select (select count(distinct event_id) from "${first.schema}".tb_observer_log where status = 'success') as delivered,
      (select count(*) from "${first.schema}".tb_observer_retry) as waiting, (select min(event_count) from "${first.schema}".observer_checkpoints) as read`)
    return (Number(done.delivered) === 30 && Number(done.waiting) === 0 && Number(done.read) === 30) || undefined
  }, 30_000, 'every event delivered by both listeners, nothing waiting')
  t.ok(target.received.length >= 30, `requests from both: ${target.received.length}`)
  const times = target.received.map((r) => r.at).sort((a, b) => a - b)
  let densest = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 1000) j++
    densest = Math.max(densest, i - j + 1)
  }
  t.ok(densest <= 24, `at most 20 per second, give or take arrival jitter (densest second: ${densest})`)
})

t.test('a 429 with Retry-After pauses the whole endpoint; what came meanwhile waits without an attempt and then goes', async (t) => {
  let throttled = 0
  const target = await startHttpTarget(t, (_req, res) => {
    if (throttled++ === 0) res.writeHead(429, { 'retry-after': '2' }).end()
    else res.writeHead(200).end()
  })
  const { pool, schema } = await build(t, { runtime: { circuitBreaker: false } })
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, actions: [{ type: 'webhook', url: target.url }] })
  await insertChanges(pool, schema, 1)
  await target.waitFor(1)
  await eventually(async () => (await endpointRow(pool, schema, target.url))?.paused_until != null || undefined, 10_000, 'the endpoint paused')
  await insertChanges(pool, schema, 5)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry', "last_error like '%Retry-After%'") === 5 || undefined, 10_000, 'the later five waiting')
  t.equal(target.received.length, 1, 'nothing was sent while paused, not even to other events')
  await target.waitFor(7, 20_000)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 6 || undefined, 10_000, 'everything delivered after the pause')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 7, 'one failed attempt (the 429), no attempt logged for the waits')
})

t.test('auto-disable: waiting deliveries are dead-lettered, the observers disabled, and the alert reaches another observer; reset undoes it', async (t) => {
  const dead = await startHttpTarget(t, failing())
  const alerts = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { circuitBreaker: { minAttempts: 3, coolDownMs: 60_000, disableAfterMs: 300 } } })
  const observer = await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, actions: [{ type: 'webhook', url: dead.url }] })
  await insertObserver(pool, schema, { entity_type: 'observers.endpoint', actions: [{ type: 'webhook', url: alerts.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 8)
  await eventually(async () => (await endpointRow(pool, schema, dead.url))?.state === 'disabled' || undefined, 20_000, 'the endpoint disabled')
  const { rows: [disabled] } = await pool.query(`select enabled, disabled_reason from "${schema}".tb_observer where id = $1`, [observer])
  t.match(disabled, { enabled: false, disabled_reason: `endpoint ${dead.url} disabled: its circuit stayed open` })
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0)
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter', "error_code = 'ENDPOINT_DISABLED'"), 8, 'all 8 dead-lettered, as ENDPOINT_DISABLED')
  await alerts.waitFor(2, 10_000)
  t.match(alerts.received.map((r) => r.json.data), [
    { endpoint: dead.url, state: 'opened', observers: [observer] },
    { endpoint: dead.url, state: 'disabled', observers: [observer] }
  ])
  t.match(alerts.received[1].json, { entity_type: 'observers.endpoint', event_type: 'CUSTOM', entity_id: dead.url })

  t.same(await app.observers.endpoints.reset(dead.url, true), { closed: true })
  t.match(await endpointRow(pool, schema, dead.url), { state: 'closed' })
  const { rows: [enabled] } = await pool.query(`select enabled, disabled_reason from "${schema}".tb_observer where id = $1`, [observer])
  t.same(enabled, { enabled: true, disabled_reason: null })
  await alerts.waitFor(3, 10_000)
  t.match(alerts.received[2].json.data, { endpoint: dead.url, state: 'closed' })
})

t.test('an ordered observer behind an open circuit: its entities wait, and on recovery each one\'s events go out in commit order', async (t) => {
  let up = false
  const seen: Array<{ entity: string, n: number }> = []
  const target = await startHttpTarget(t, (req, res) => {
    if (up) seen.push({ entity: req.json.entity_id, n: req.json.data.n })
    res.writeHead(up ? 200 : 503).end()
  })
  const { pool, schema } = await build(t, { runtime: { circuitBreaker: { minAttempts: 3, coolDownMs: 200, maxCoolDownMs: 400 } } })
  await insertObserver(pool, schema, { entity_type: 'order', ordering: 'entity', retry_config: RETRY, actions: [{ type: 'webhook', url: target.url }] })
  // three entities, five events each, written in rounds: commit order is n order per entity
  for (let n = 0; n < 5; n++) {
    await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
      select 'order', e, 'UPDATE', jsonb_build_object('n', $1::int) from unnest(array['a', 'b', 'c']) as e`, [n])
  }
  await eventually(async () => (await endpointRow(pool, schema, target.url))?.state === 'open' || undefined, 20_000, 'the circuit open')
  up = true
  await eventually(() => seen.length >= 15 || undefined, 30_000, 'all 15 delivered after recovery')
  for (const entity of ['a', 'b', 'c']) {
    t.same(seen.filter((s) => s.entity === entity).map((s) => s.n), [0, 1, 2, 3, 4], `entity ${entity} in commit order`)
  }
  t.equal(seen.length, 15, 'each once')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
})
