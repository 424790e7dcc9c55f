// The console's overview series, merged across instances, and the routes the console added:
// the newest change-log rows (for its dry run) and discarding every dead letter a filter selects.
import t from 'tap'
import { saveSamples } from '../../lib/db/throughput.repo.js'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { call, createObserver } from '../helpers/routes.js'

async function insertChanges (pool: { query: (text: string, values: unknown[]) => Promise<unknown> }, schema: string, rows: Array<[string, string]>): Promise<void> {
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    select r->>0, r->>1, 'INSERT', '{}' from jsonb_array_elements($1::jsonb) r`, [JSON.stringify(rows)])
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)

t.test('deliveries per second: this instance\'s at once, another\'s from the table, written every few seconds', async (t) => {
  const target = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await createObserver(app, { entity_type: 'order', actions: [{ type: 'webhook', url: `${target.url}/hook` }] })
  await insertChanges(pool, schema, [['order', '1'], ['order', '2'], ['order', '3']])
  await target.waitFor(3)

  // the lag is measured once this instance reads the stream (the next second), then every 5 s
  const series = await eventually(async () => {
    const body = (await call(app, 'GET', '/runtime/throughput?seconds=60')).json()
    return sum(body.delivered) === 3 && body.lag_events.some((v: number | null) => v !== null) ? body : undefined
  }, 10_000, 'three deliveries counted and the lag sampled')
  t.equal(series.delivered.length, 60)
  t.equal(series.lag_events.length, 60)
  t.ok(Math.abs(series.start + 59 - Date.now() / 1000) < 5, 'the series ends now')
  t.equal(sum(series.failed), 0)
  t.equal(series.instances, 1)
  t.ok(series.lag_events.some((v: number | null) => v !== null), 'the lag is sampled')

  // another instance's seconds, as it writes them
  const second = Math.floor(Date.now() / 1000) - 3
  await saveSamples(app.observers.db, 'elsewhere:1', [{ second, delivered: 5, failed: 2, lagEvents: 1234, lagSeconds: 9.5 }], second - 900)
  const merged = (await call(app, 'GET', '/runtime/throughput?seconds=60')).json()
  t.equal(sum(merged.delivered), 8, 'both instances\' deliveries')
  t.equal(sum(merged.failed), 2)
  t.equal(merged.instances, 2)
  t.equal(merged.lag_events[second - merged.start], 1234, 'the larger lag of that second')

  // this instance writes its own seconds for the others
  const written = await eventually(async () => {
    const { rows } = await pool.query<{ delivered: string }>(`select sum(delivered)::text as delivered from "${schema}".tb_observer_throughput where instance_id <> 'elsewhere:1'`)
    return rows[0].delivered === '3' ? rows : undefined
  }, 10_000, 'this instance\'s seconds written')
  t.ok(written)

  // a write removes what fell out of the window
  await saveSamples(app.observers.db, 'elsewhere:1', [], second + 1)
  t.equal(sum((await call(app, 'GET', '/runtime/throughput?seconds=60')).json().delivered), 3)

  for (const query of ['seconds=0', 'seconds=901', 'seconds=x', 'other=1']) t.equal((await call(app, 'GET', `/runtime/throughput?${query}`)).statusCode, 400, query)
  t.equal((await app.inject({ method: 'GET', url: '/observers/runtime/throughput' })).statusCode, 401, 'behind the admin auth')
})

t.test('the newest change-log rows, newest first, of one object type', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await insertChanges(pool, schema, [['order', '1'], ['user', '1'], ['order', '2'], ['order', '3']])
  const newest = (await call(app, 'GET', '/changelog/recent?limit=2')).json().entries
  t.same(newest.map((e: any) => [e.object_type, e.object_id]), [['order', '3'], ['order', '2']])
  const users = (await call(app, 'GET', '/changelog/recent?object_type=user')).json().entries
  t.same(users.map((e: any) => e.object_id), ['1'])
  t.match(users[0], { id: /^\d+$/, event_id: /^[0-9a-f-]{36}$/, modification_type: 'INSERT' })
  t.equal((await call(app, 'GET', '/changelog/recent?limit=101')).statusCode, 400)
})

t.test('discard every dead letter a filter selects', async (t) => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(400).end() })
  const { app, pool, schema } = await build(t)
  await createObserver(app, { actions: [{ type: 'webhook', url: `${target.url}/hook` }] })
  await insertChanges(pool, schema, [['order', '1'], ['order', '2'], ['user', '1']])
  await eventually(async () => (await call(app, 'GET', '/dlq')).json().data.length === 3, 10_000, 'three dead letters')
  t.same((await call(app, 'POST', '/dlq/discard-all', { entity_type: 'order' })).json(), { discarded: 2 })
  t.same((await call(app, 'GET', '/dlq')).json().data.map((d: any) => d.entity_type), ['user'], 'the others stay')
  t.same((await call(app, 'POST', '/dlq/discard-all', {})).json(), { discarded: 1 })
  t.equal((await call(app, 'POST', '/dlq/discard-all', { entity_type: 'order', priority: 1 })).statusCode, 400, 'unknown fields refused')
})
