import t from 'tap'
import { build, eventually } from '../helper.js'
import { countRows, insertChanges } from '../helpers/rows.js'
import { runRetention } from '../../lib/runtime/retention.js'
import { createMetrics } from '../../lib/runtime/metrics/metrics.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { INJECTIONS, call, createObserver } from '../helpers/routes.js'

t.test('the change log pages in commit order, optionally by object type', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const orders = await insertChanges(pool, schema, 5, 'orders')
  const users = await insertChanges(pool, schema, 2, 'users')
  // rows show once no transaction older than theirs is open anywhere in the database (other tests' too)
  await eventually(async () => (await call(app, 'GET', '/changelog')).json().entries.length === 7 || undefined, 10_000, 'the rows committed and below the horizon')
  const first = await call(app, 'GET', '/changelog?limit=4')
  t.equal(first.statusCode, 200)
  const p1 = first.json()
  t.same(p1.entries.map((e: any) => e.id), orders.slice(0, 4))
  t.equal(p1.next_cursor, p1.entries[3].cursor)
  t.match(p1.entries[3].cursor, new RegExp(`^[0-9]+:${orders[3]}$`), 'a cursor is the row\'s place in commit order: <txid>:<id>')
  t.match(p1.entries[0], { event_id: /^[0-9a-f-]{36}$/, object_type: 'orders', object_id: '0', modification_type: 'INSERT', object_data: { n: 0 }, object_data_before: null, tenant_id: null })
  const p2 = (await call(app, 'GET', `/changelog?limit=4&after_cursor=${p1.next_cursor}`)).json()
  t.same(p2.entries.map((e: any) => e.id), [orders[4], ...users])
  t.equal(p2.next_cursor, null)
  t.same((await call(app, 'GET', '/changelog?object_type=users')).json().entries.map((e: any) => e.id), users)
  t.equal((await call(app, 'GET', '/changelog')).json().entries.length, 7, 'default limit 100')
  for (const value of INJECTIONS) {
    const res = await call(app, 'GET', `/changelog?object_type=${encodeURIComponent(value)}`)
    t.same([res.statusCode, res.json().entries], [200, []], value)
  }
  const byId = (await call(app, 'GET', `/changelog?limit=2&after_cursor=${orders[3]}`)).json()
  t.same(byId.entries.map((e: any) => e.id), [orders[4], users[0]], 'a bare change-log id reads on after that row')
  t.match((await call(app, 'GET', '/changelog?after_cursor=999999')).json(), { statusCode: 400, code: 'OBS_ERR_VALIDATION', message: /no change-log row has id 999999/ })
  for (const query of ['limit=0', 'limit=1001', 'after_cursor=abc', 'after_cursor=-1', 'after_cursor=1%20or%201=1', 'after_cursor=1:0', 'after_cursor=1:2:3']) {
    t.match((await call(app, 'GET', `/changelog?${query}`)).json(), { statusCode: 400, code: 'OBS_ERR_VALIDATION' }, query)
  }
  t.equal((await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log`)).rows[0].n, 7, 'the table is intact')
})

t.test('checkpoints: read, 404 unknown; PUT replays the rows after a change-log id', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await createObserver(app, { entity_type: 'orders', actions: [{ type: 'webhook', url: sink.url }] })
  const ids = await insertChanges(pool, schema, 3, 'orders')
  await sink.waitFor(3)
  const checkpoint = await eventually(async () => {
    const res = (await call(app, 'GET', '/checkpoint/default')).json()
    return res.after_cursor === ids[2] ? res : undefined
  }, 10_000, 'the checkpoint passes the rows')
  t.match(checkpoint, { listener_id: 'default', after_cursor: ids[2], event_count: 3, last_error: null })
  t.ok(Date.parse(checkpoint.updated_at) > 0)
  t.match((await call(app, 'GET', '/checkpoint/elsewhere')).json(), { statusCode: 404, code: 'OBS_ERR_NOT_FOUND' })
  t.equal((await call(app, 'GET', '/checkpoint/bad%20name')).statusCode, 400)

  const moved = await call(app, 'PUT', '/checkpoint/default', { after_cursor: ids[0] })
  t.equal(moved.statusCode, 200)
  t.match(moved.json(), { listener_id: 'default', after_cursor: ids[0] })
  // the idle reader is told of the move (NOTIFY) and delivers the rows after the cursor again
  const deliveriesOf = (entity: string) => sink.received.filter((r) => r.json.entity_id === entity)
  await eventually(() => (deliveriesOf('1').length === 2 && deliveriesOf('2').length === 2) || undefined, 10_000, 'replayed deliveries')
  t.equal(deliveriesOf('0').length, 1, 'the row at the cursor is not read again')
  t.equal(deliveriesOf('1')[1].headers['webhook-id'], deliveriesOf('1')[0].headers['webhook-id'], 'a replay keeps the idempotency key')

  const start = await call(app, 'PUT', '/checkpoint/replay-listener', { after_cursor: '0' })
  t.match(start.json(), { listener_id: 'replay-listener', after_cursor: '0', event_count: 0 }, '"0" is the start of the log; a new listener is created')
  const unknown = await call(app, 'PUT', '/checkpoint/default', { after_cursor: '999999' })
  t.equal(unknown.statusCode, 400)
  t.match(unknown.json(), { code: 'OBS_ERR_VALIDATION', message: /no change-log row has id 999999/ })
  t.match((await call(app, 'PUT', '/checkpoint/default', { after_cursor: Number(ids[1]) })).json(), { after_cursor: ids[1] }, 'an integer cursor is taken as well')
  t.equal((await call(app, 'PUT', '/checkpoint/default', { after_cursor: 'latest' })).statusCode, 400)
  t.equal((await call(app, 'PUT', '/checkpoint/default', { after_cursor: -1 })).statusCode, 400)
  t.equal((await call(app, 'PUT', '/checkpoint/default', { after_cursor: 1.5 })).statusCode, 400)
  t.equal((await call(app, 'PUT', '/checkpoint/default', { after_cursor: '1', force: true })).statusCode, 400)
  t.equal((await call(app, 'PUT', '/checkpoint/default', {})).json().message, 'body/after_cursor is required')
})

t.test('a consumer paging the change log gets a row that commits late, after rows with higher ids', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const [first] = await insertChanges(pool, schema, 1, 'orders')
  // other tests' open transactions hold the horizon too: wait for the first row to be below it
  await eventually(async () => (await call(app, 'GET', '/changelog')).json().entries.length === 1 || undefined, 10_000, 'the first row below the horizon')
  const late = await pool.connect()
  t.teardown(() => { late.release() })
  await late.query('begin')
  const [lateId] = await insertChanges(late, schema, 1, 'late')
  const [after] = await insertChanges(pool, schema, 1, 'orders')
  t.ok(BigInt(lateId) < BigInt(after), 'the late row has the lower id')
  const p1 = (await call(app, 'GET', '/changelog')).json()
  t.same(p1.entries.map((e: any) => e.id), [first], 'the row committed after the open transaction began waits for it')
  const cursor = p1.entries[0].cursor
  await late.query('commit')
  const p2 = await eventually(async () => { const page = (await call(app, 'GET', `/changelog?after_cursor=${cursor}`)).json(); return page.entries.length >= 2 ? page : undefined }, 10_000, 'both rows after the cursor')
  t.same(p2.entries.map((e: any) => e.id), [lateId, after], 'the late row is not skipped')
  t.equal(p2.next_cursor, null)
})

t.test('removing an abandoned checkpoint lets the change-log retention advance', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false }, retention: { changeLogDays: 7 } })
  const ids = await insertChanges(pool, schema, 4)
  await pool.query(`update "${schema}".tb_entity_change_log set created_at = now() - interval '8 days'`)
  t.equal((await call(app, 'PUT', '/checkpoint/default', { after_cursor: ids[3] })).statusCode, 200)
  t.equal((await call(app, 'PUT', '/checkpoint/abandoned', { after_cursor: 0 })).statusCode, 200)
  const ctx = { options: app.observers.options, db: app.observers.db, schema, log: app.log, metrics: createMetrics() }
  t.match(await runRetention(ctx, new AbortController().signal), { changes: 0 }, 'the abandoned listener holds every row')
  const removed = await call(app, 'DELETE', '/checkpoint/abandoned')
  t.equal(removed.statusCode, 204)
  t.match((await call(app, 'GET', '/checkpoint/abandoned')).json(), { statusCode: 404 })
  t.match((await call(app, 'DELETE', '/checkpoint/abandoned')).json(), { statusCode: 404, code: 'OBS_ERR_NOT_FOUND' })
  t.match(await runRetention(ctx, new AbortController().signal), { changes: 4 }, 'the rows every remaining listener read go')
  t.equal(await countRows(pool, schema, 'tb_entity_change_log'), 0)
})

t.test('a running listener\'s checkpoint is not removed', async (t) => {
  const { app } = await build(t)
  await eventually(async () => (await app.observers.health()).reading || undefined, 10_000, 'the reader takes the lease')
  const res = await call(app, 'DELETE', '/checkpoint/default')
  t.equal(res.statusCode, 409)
  t.match(res.json(), { code: 'OBS_ERR_CONFLICT', message: /listener default is running/ })
  t.equal((await call(app, 'GET', '/checkpoint/default')).statusCode, 200)
})
