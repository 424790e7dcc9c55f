// PUT /observers/listeners/:listener_id re-splits a listener's stream; GET shows its count and the re-split under way.
import t from 'tap'
import { build, eventually } from '../helper.js'
import { recordPartitions } from '../../lib/db/partitions.repo.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { call } from '../helpers/routes.js'
import { insertChanges, insertObserver } from '../helpers/rows.js'

t.test('a re-split names what is wrong with the request: an unknown listener, a count outside 1..256, a listener of one partition', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const { db, schema } = app.observers
  t.match((await call(app, 'GET', '/listeners/default')).json(), { statusCode: 404, code: 'OBS_ERR_NOT_FOUND', message: 'listener not found' })
  t.equal((await call(app, 'PUT', '/listeners/default', { partitions: 8 })).statusCode, 404, 'a listener never started has no partitions to re-split')

  await recordPartitions(db, schema, 'default', 4)
  t.same((await call(app, 'GET', '/listeners/default')).json(), { listener_id: 'default', partitions: 4, resplit: null })
  for (const [body, field] of [[{ partitions: 0 }, 'body/partitions'], [{ partitions: 257 }, 'body/partitions'], [{ partitions: 'eight' }, 'body/partitions'], [{}, 'partitions'], [{ partitions: 8, now: true }, 'now']] as const) {
    const res = await call(app, 'PUT', '/listeners/default', body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json(), { code: 'OBS_ERR_VALIDATION', message: new RegExp(field) })
  }
  t.equal((await call(app, 'PUT', '/listeners/default?wait_seconds=61', { partitions: 8 })).statusCode, 400, 'at most a minute of waiting')
  t.equal((await call(app, 'PUT', '/listeners/bad%20id', { partitions: 8 })).statusCode, 400)

  const one = await call(app, 'PUT', '/listeners/default', { partitions: 1 })
  t.equal(one.statusCode, 409)
  t.match(one.json().message, /cannot go from 4 to 1 partitions: re-splitting to or from 1 partition is not supported/)
  await recordPartitions(db, schema, 'whole', 1)
  t.equal((await call(app, 'PUT', '/listeners/whole', { partitions: 4 })).statusCode, 409)

  const same = await call(app, 'PUT', '/listeners/default', { partitions: 4 })
  t.equal(same.statusCode, 200, 'the count it runs with: nothing to do')
  t.same(same.json(), { listener_id: 'default', partitions: 4, resplit: null })
})

t.test('a re-split no instance finishes is answered 202 and stays requested; another count waits for it; the current count cancels it', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const { db, schema } = app.observers
  await recordPartitions(db, schema, 'default', 4)
  const asked = await call(app, 'PUT', '/listeners/default?wait_seconds=0', { partitions: 8 })
  t.equal(asked.statusCode, 202, 'no instance reads the partitions up to the barrier')
  t.match(asked.json(), { listener_id: 'default', partitions: 4, resplit: { partitions: 8, barrier_txid: /^[0-9]+$/, partitions_at_barrier: 0 } })
  t.same((await call(app, 'GET', '/listeners/default')).json(), asked.json(), 'GET shows the re-split under way')
  const again = await call(app, 'PUT', '/listeners/default?wait_seconds=0', { partitions: 8 })
  t.equal(again.statusCode, 202)
  t.equal(again.json().resplit.barrier_txid, asked.json().resplit.barrier_txid, 'asking again joins the same re-split')

  const other = await call(app, 'PUT', '/listeners/default', { partitions: 16 })
  t.equal(other.statusCode, 409)
  t.match(other.json().message, /a re-split of listener default to 8 partitions is under way: wait for it .*or cancel it with \{ "partitions": 4 \}/)

  const cancelled = await call(app, 'PUT', '/listeners/default', { partitions: 4 })
  t.equal(cancelled.statusCode, 200)
  t.same(cancelled.json(), { listener_id: 'default', partitions: 4, resplit: null }, 'the current count cancels it')
})

t.test('an instance started with the count a re-split goes to is let in, reads up to the barrier and switches', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await recordPartitions(app.observers.db, schema, 'default', 4)
  t.equal((await call(app, 'PUT', '/listeners/default?wait_seconds=0', { partitions: 8 })).statusCode, 202)
  const runtime = await build(t, { runtime: { start: false, partitions: 8, handoffDrainMs: 500 } }, { pool, schema })
  await runtime.app.observers.start()
  const switched = await eventually(async () => {
    const body = (await call(app, 'GET', '/listeners/default')).json()
    return body.resplit === null ? body : undefined
  }, 20_000, 'the switch')
  t.same(switched, { listener_id: 'default', partitions: 8, resplit: null })
  await eventually(async () => (await runtime.app.observers.health()).partitions_held === 8 || undefined, 20_000, 'the eight new partitions read')
  t.equal((await call(app, 'GET', '/runtime/instances')).json().partitions, 8, 'the instances route shows the new count')
})

t.test('a running instance goes from 8 partitions down to 4, delivering every event once', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { start: false, partitions: 8, handoffDrainMs: 500 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.start()
  await eventually(async () => (await app.observers.health()).partitions_held === 8 || undefined, 20_000, 'the eight partitions read')
  await insertChanges(pool, schema, 300, 'order', (i) => ({ n: `before-${i}` }))
  const res = await call(app, 'PUT', '/listeners/default', { partitions: 4 })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { listener_id: 'default', partitions: 4, resplit: null })
  await insertChanges(pool, schema, 300, 'order', (i) => ({ n: `after-${i}` }))
  await eventually(async () => (await app.observers.health()).partitions_held === 4 || undefined, 20_000, 'the four partitions read')
  await sink.waitFor(600, 20_000)
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 600, 'every event delivered')
  t.equal(sink.received.length, 600, 'once')
  const { rows } = await pool.query(`select listener_id from "${schema}".observer_checkpoints order by listener_id`)
  t.same(rows.map((r) => r.listener_id), ['default#0', 'default#1', 'default#2', 'default#3'], 'the checkpoints of the partitions gone are removed')
})
