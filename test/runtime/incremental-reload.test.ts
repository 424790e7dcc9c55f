import t from 'tap'
import type pg from 'pg'
import type { Test } from 'tap'
import { AUTH, build, eventually, type Built } from '../helper.js'
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js'
import { counterValue } from '../helpers/metrics.js'
import { insertChanges } from '../helpers/rows.js'

const MANY = 2000

/** `MANY` observers of other entity types, written in one statement as a bulk import would. */
async function insertMany (pool: pg.Pool, schema: string, url: string): Promise<void> {
  await pool.query(`insert into "${schema}".tb_observer (name, entity_type, actions)
    select 'bulk-' || g, 'kind-' || g, $1::jsonb from generate_series(1, ${MANY}) g`, [JSON.stringify([{ type: 'webhook', url }])])
}

async function rowsRead (app: Built['app'], kind: 'full' | 'incremental'): Promise<number> {
  return await counterValue(app.observers.metrics, 'observers_reload_rows_total', { kind })
}

/** Two instances with listeners of their own: each delivers every event, from its own matcher. */
async function twoInstances (t: Test): Promise<{ a: Built, b: Built, sink: HttpTarget }> {
  const sink = await startHttpTarget(t)
  const a = await build(t, { runtime: { listenerId: 'a' } })
  await insertMany(a.pool, a.schema, sink.url)
  const b = await build(t, { runtime: { listenerId: 'b' } }, { pool: a.pool, schema: a.schema })
  for (const { app } of [a, b]) {
    await eventually(async () => (await app.observers.health()).observer_count === MANY || undefined, 10_000, 'the bulk import loaded')
  }
  return { a, b, sink }
}

/** Which listeners delivered the change with `n` (the sink sees each delivery once). */
function deliveredBy (sink: HttpTarget, n: string): string[] {
  return sink.received.filter((r) => r.json.entity_id === n).map((r) => String(r.headers['x-from'])).sort()
}

t.test('an update to one observer among many takes effect for the next event on both instances, and each reads that one row', async (t) => {
  const { a, b, sink } = await twoInstances(t)
  const actions = (from: string) => [{ type: 'webhook', url: sink.url, headers: { 'x-from': from } }]
  const created = await a.app.inject({ method: 'POST', url: '/observers', headers: AUTH, payload: { name: 'orders', entity_type: 'order', condition_expression: 'n == 1', actions: actions('v1') } })
  t.equal(created.statusCode, 201)
  const id = created.json().id
  await insertChanges(a.pool, a.schema, 1, 'order', () => ({ n: 1 }))
  await eventually(() => deliveredBy(sink, '1').length === 2 || undefined, 10_000, 'both listeners delivered n=1')
  const before = { a: await rowsRead(a.app, 'incremental'), b: await rowsRead(b.app, 'incremental'), fullA: await rowsRead(a.app, 'full'), fullB: await rowsRead(b.app, 'full') }

  const patched = await a.app.inject({ method: 'PATCH', url: `/observers/${id}`, headers: AUTH, payload: { condition_expression: 'n == 2', actions: actions('v2') } })
  t.equal(patched.statusCode, 200)
  // at once, with no wait for either instance to hear of the change
  await insertChanges(a.pool, a.schema, 2, 'order', (i) => ({ n: 10 + i }))
  await insertChanges(a.pool, a.schema, 1, 'order', () => ({ n: 2 }))
  await eventually(() => deliveredBy(sink, '2').length === 2 || undefined, 10_000, 'both listeners delivered n=2')
  t.same(deliveredBy(sink, '2'), ['v2', 'v2'], 'both instances used the new definition')
  t.same(deliveredBy(sink, '10'), [], 'the old condition no longer matches')
  t.equal(await rowsRead(a.app, 'incremental') - before.a, 1, 'instance A read one row')
  t.equal(await rowsRead(b.app, 'incremental') - before.b, 1, 'instance B read one row')
  t.equal(await rowsRead(a.app, 'full'), before.fullA, 'no full reload on A')
  t.equal(await rowsRead(b.app, 'full'), before.fullB, 'no full reload on B')
})

t.test('a disabled or deleted observer leaves the index of every instance', async (t) => {
  const { a, b, sink } = await twoInstances(t)
  const make = async (name: string, entity: string): Promise<string> => {
    const res = await a.app.inject({ method: 'POST', url: '/observers', headers: AUTH, payload: { name, entity_type: entity, actions: [{ type: 'webhook', url: sink.url, headers: { 'x-from': name } }] } })
    return res.json().id
  }
  const disabled = await make('to-disable', 'order')
  const deleted = await make('to-delete', 'order')
  await make('stays', 'order')
  t.equal((await a.app.inject({ method: 'POST', url: `/observers/${disabled}/disable`, headers: AUTH })).statusCode, 200)
  t.equal((await a.app.inject({ method: 'DELETE', url: `/observers/${deleted}`, headers: AUTH })).statusCode, 204)
  await insertChanges(a.pool, a.schema, 1, 'order', () => ({ n: 7 }))
  await eventually(() => deliveredBy(sink, '7').length >= 2 || undefined, 10_000, 'the next event delivered')
  t.same(deliveredBy(sink, '7'), ['stays', 'stays'], 'only the observer still enabled and live, on both instances')
  for (const { app } of [a, b]) t.equal((await app.observers.health()).observer_count, MANY + 1)
})

t.test('a row deleted outright, which no version can show, makes every instance load everything', async (t) => {
  const { a, b, sink } = await twoInstances(t)
  const loads = async (app: Built['app']): Promise<number> => await counterValue(app.observers.metrics, 'observers_reloads_total', { kind: 'full' })
  const fullBefore = [await loads(a.app), await loads(b.app)]
  await a.pool.query(`delete from "${a.schema}".tb_observer where name = 'bulk-1'`)
  await insertChanges(a.pool, a.schema, 1, 'kind-1', () => ({ n: 5 }))
  await insertChanges(a.pool, a.schema, 1, 'kind-2', () => ({ n: 6 }))
  await eventually(() => sink.received.filter((r) => r.json.entity_id === '6').length === 2 || undefined, 10_000, 'n=6 delivered by both')
  t.equal(sink.received.filter((r) => r.json.entity_id === '5').length, 0, 'the deleted observer matched nothing')
  t.equal(await loads(a.app) - fullBefore[0], 1, 'A loaded everything once')
  t.equal(await loads(b.app) - fullBefore[1], 1, 'B loaded everything once')
  for (const { app } of [a, b]) t.equal((await app.observers.health()).observer_count, MANY - 1)
})

t.test('a full reload reads whole only the rows that changed since the last one', async (t) => {
  // the runtime stopped: no load but the ones asked for
  const a = await build(t, { runtime: { start: false } })
  await insertMany(a.pool, a.schema, 'http://127.0.0.1:9/unused')
  const before = await rowsRead(a.app, 'full')
  t.equal(await a.app.observers.reload(), MANY)
  t.equal(await rowsRead(a.app, 'full') - before, MANY, 'the first time, every row')
  await a.pool.query(`update "${a.schema}".tb_observer set priority = 5 where name in ('bulk-1', 'bulk-2')`)
  t.equal(await a.app.observers.reload(), MANY)
  t.equal(await rowsRead(a.app, 'full') - before, MANY + 2, 'then the two rows updated')
})
