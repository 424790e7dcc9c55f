// A key is freed only when no park for it is pending anywhere, committed or not (issue 24 item 2):
// an event parked by a batch that has not committed yet is invisible to the database, so a release
// round that finds nothing parked there must not free the key, or the next event would overtake it.
import t, { type Test } from 'tap'
import { build } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertObserver } from '../helpers/rows.js'
import { findLiveObservers } from '../../lib/db/observers.repo.js'
import type { ObserverEvent } from '../../lib/model.js'
import type { RuntimeContext } from '../../lib/runtime/context.js'
import { Executor } from '../../lib/runtime/delivery/executor.js'
import { KeyOrder, keyOf } from '../../lib/runtime/read-path/ordering.js'
import { releaseRound } from '../../lib/runtime/stored/parked-release.js'
import type { LeaseFence } from '../../lib/db/stored.repo.js'
import type pg from 'pg'

/** Takes the listener's lease on a connection of its own, as the read loop's session does. */
async function takeLease (t: Test, pool: pg.Pool, schema: string): Promise<{ fence: LeaseFence, release: () => Promise<void> }> {
  const client = await pool.connect()
  t.teardown(() => { client.release(true) })
  const { rows: [{ ok, pid }] } = await client.query('select pg_try_advisory_lock(hashtext($1), hashtext($2)) as ok, pg_backend_pid() as pid', [schema, 'default'])
  if (ok !== true) throw new Error('lease not taken')
  return { fence: { namespace: schema, key: 'default', pid }, release: async () => { await client.query('select pg_advisory_unlock(hashtext($1), hashtext($2))', [schema, 'default']) } }
}

t.test('an event arriving while its key is being released is not overtaken', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const observerId = await insertObserver(pool, schema, { entity_type: 'order', ordering: 'entity', actions: [{ type: 'webhook', url: sink.url }] })
  const observer = (await findLiveObservers(app.observers.db, [observerId])).get(observerId)
  if (observer === undefined) throw new Error('observer not found')
  const ctx = {
    options: app.observers.options,
    db: app.observers.db,
    schema,
    log: app.log,
    registry: app.observers.actions,
    stats: { eventsProcessed: 0, errors: 0, lastError: null, lastErrorAt: 0 },
    executor: new Executor(app.observers.actions, 4)
  } as unknown as RuntimeContext
  // key K was held by event N, whose retry has just succeeded: no retry row is left for its blocker
  await pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id, blocking_event_id) values ($1, 'order', 'K', gen_random_uuid())`, [observerId])
  const key = keyOf(observerId, 'order', 'K')
  const { fence } = await takeLease(t, pool, schema)
  const order = new KeyOrder()
  order.reset([{ observer_id: observerId, entity_type: 'order', entity_id: 'K' }])

  // event N+1 of K is parked by a batch still in flight: nothing of it is in the database yet
  const next: ObserverEvent = { event_id: '0b9d7c1e-1f7a-4d1e-8a3b-2c4d5e6f7a8b', event_type: 'UPDATE', entity_type: 'order', entity_id: 'K', tenant_id: null, user_id: null, timestamp: new Date().toISOString(), data: { n: 1 }, before: null, changes: null, trace_id: null, change_log_id: '2' }
  const parked = await order.run({ key, observer, event: next, deliveries: [], parked: true }, async () => [])
  t.equal(parked.state, 'parked')

  // the release round runs meanwhile
  await releaseRound(ctx, order, fence)
  t.equal(order.isHeld(key), true, 'the key stays held: event N+2 would be parked behind N+1, not run before it')
  t.equal(await countRows(pool, schema, 'tb_observer_key'), 1, 'and its row stays in the database')

  // the batch commits N+1's park; the next round releases it
  await pool.query(`insert into "${schema}".tb_observer_parked (observer_id, entity_type, entity_id, event_id, change_log_id, event) values ($1, 'order', 'K', $2, 2, $3)`, [observerId, next.event_id, JSON.stringify(next)])
  order.parksCommitted([key])
  await releaseRound(ctx, order, fence)
  t.same(sink.received.map((r) => r.json.event_id), [next.event_id], 'N+1 is delivered, released in its turn')
  t.equal(await countRows(pool, schema, 'tb_observer_parked'), 0)
})

t.test('an event parked for an observer deleted since ends as cancelled log rows, one per action, not silently', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const observerId = await insertObserver(pool, schema, { entity_type: 'order', ordering: 'entity', actions: [{ type: 'webhook', url: sink.url }, { type: 'log', message_template: 'x' }] })
  const ctx = {
    options: app.observers.options,
    db: app.observers.db,
    schema,
    log: app.log,
    executor: new Executor(app.observers.actions, 4)
  } as unknown as RuntimeContext
  const event = { event_id: '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c', event_type: 'INSERT', entity_type: 'order', entity_id: 'K', tenant_id: null, user_id: null, timestamp: new Date().toISOString(), data: {}, before: null, changes: null, trace_id: null, change_log_id: '7' }
  await pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id) values ($1, 'order', 'K')`, [observerId])
  await pool.query(`insert into "${schema}".tb_observer_parked (observer_id, entity_type, entity_id, event_id, change_log_id, event) values ($1, 'order', 'K', $2, 7, $3)`, [observerId, event.event_id, JSON.stringify(event)])
  await pool.query(`update "${schema}".tb_observer set deleted_at = now() where id = $1`, [observerId])
  const order = new KeyOrder()
  order.reset([{ observer_id: observerId, entity_type: 'order', entity_id: 'K' }])
  await releaseRound(ctx, order, (await takeLease(t, pool, schema)).fence)
  const { rows } = await pool.query(`select action_index, status, error_code, event_id::text from "${schema}".tb_observer_log order by action_index`)
  t.same(rows, [0, 1].map((i) => ({ action_index: i, status: 'cancelled', error_code: 'OBSERVER_DELETED', event_id: event.event_id })))
  t.equal(await countRows(pool, schema, 'tb_observer_parked'), 0)
  t.equal(sink.received.length, 0)
})

t.test('a lease lost during a release round: the round commits nothing; the new holder releases the event, logged once', async (t) => {
  const held: Array<import('node:http').ServerResponse> = []
  const sink = await startHttpTarget(t, (_req, res) => { held.push(res) })
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const observerId = await insertObserver(pool, schema, { entity_type: 'order', ordering: 'entity', actions: [{ type: 'webhook', url: sink.url }] })
  const ctx = { options: app.observers.options, db: app.observers.db, schema, log: app.log, executor: new Executor(app.observers.actions, 4) } as unknown as RuntimeContext
  const event = { event_id: '1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d', event_type: 'INSERT', entity_type: 'order', entity_id: 'K', tenant_id: null, user_id: null, timestamp: new Date().toISOString(), data: {}, before: null, changes: null, trace_id: null, change_log_id: '9' }
  await pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id) values ($1, 'order', 'K')`, [observerId])
  await pool.query(`insert into "${schema}".tb_observer_parked (observer_id, entity_type, entity_id, event_id, change_log_id, event) values ($1, 'order', 'K', $2, 9, $3)`, [observerId, event.event_id, JSON.stringify(event)])
  const first = await takeLease(t, pool, schema)
  const order = new KeyOrder()
  order.reset([{ observer_id: observerId, entity_type: 'order', entity_id: 'K' }])
  const round = releaseRound(ctx, order, first.fence)
  await sink.waitFor(1)
  // while its delivery is in flight, the lease passes to another instance
  await first.release()
  const second = await takeLease(t, pool, schema)
  held.shift()?.writeHead(200).end('ok')
  await round
  t.equal(await countRows(pool, schema, 'tb_observer_parked'), 1, 'the parked event is still there for the new holder')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 0, 'nothing was logged by the old holder')

  sink.respond = (_req, res) => { res.writeHead(200).end('ok') }
  const order2 = new KeyOrder()
  order2.reset([{ observer_id: observerId, entity_type: 'order', entity_id: 'K' }])
  await releaseRound(ctx, order2, second.fence)
  t.equal(await countRows(pool, schema, 'tb_observer_parked'), 0)
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'success'"), 1, 'one success logged, by the holder of the lease')
})
