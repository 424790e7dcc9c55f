// Re-splitting a listener's stream while events flow, with instances as real processes (SPEC 9.2).
import type { ChildProcess } from 'node:child_process'
import t from 'tap'
import { AUTH, eventually } from '../../helper.js'
import { cluster, keyedWriter, eventIds, outOfOrder, partitioned, sorted } from '../../helpers/partitions.js'
import { kill9, startRuntimeProcess } from '../../helpers/processes.js'

t.test('a re-split from 4 to 8 partitions while events flow loses nothing, delivers nothing twice and keeps per-key order', async (t) => {
  const { app, sink, url, pool, schema, shares } = await cluster(t, { ordering: 'entity' })
  const { insert: insertKeyed, written } = keyedWriter(pool, schema)
  const four = (id: string) => ({ ...partitioned(id), partitions: 4 })
  const children: ChildProcess[] = []
  for (const id of ['a', 'b']) children.push(await startRuntimeProcess(t, url, schema, 'default', four(id)))
  await eventually(async () => JSON.stringify(sorted(await shares())) === '[2,2]' || undefined, 30_000, 'the 4 partitions split between the two')

  const flowing = { on: true }
  const flow = (async () => { while (flowing.on) { await insertKeyed(20); await new Promise((resolve) => setTimeout(resolve, 20)) } })()
  t.teardown(() => { flowing.on = false })
  await eventually(() => sink.received.length >= 200 || undefined, 20_000, 'events flowing')

  const atRequest = written()
  const requestedAt = Date.now()
  const res = await app.inject({ method: 'PUT', url: '/observers/listeners/default?wait_seconds=60', headers: AUTH, payload: { partitions: 8 } })
  t.equal(res.statusCode, 200, 'the route answers once switched')
  t.comment(`switched ${Date.now() - requestedAt} ms after the request, ${atRequest} events written before it`)
  t.same(res.json(), { listener_id: 'default', partitions: 8, resplit: null })
  const split = await eventually(async () => { const s = await shares(); return JSON.stringify(sorted(s)) === '[4,4]' ? s : undefined }, 20_000, 'the 8 new partitions split between the two')
  t.same(Object.keys(split).sort(), ['a', 'b'])

  // an instance started afterwards with the new count is let in
  children.push(await startRuntimeProcess(t, url, schema, 'default', partitioned('c')))
  await eventually(async () => JSON.stringify(sorted(await shares())) === '[2,3,3]' || undefined, 20_000, 'a third instance takes its share of the 8')
  flowing.on = false
  await flow
  t.ok(written() > atRequest, `events kept coming through the switch (${written() - atRequest} after the request)`)
  await eventually(() => new Set(eventIds(sink)).size === written() || undefined, 60_000, 'every event delivered')
  t.equal(sink.received.length, written(), 'each exactly once')
  t.same(outOfOrder(sink), [], 'and every key got its changes in the order they were made, across the switch')
})

t.test('an instance killed during a re-split: the other reads its partitions up to the barrier, switches, and nothing is lost', async (t) => {
  const { app, sink, url, schema, shares, insert, inserted } = await cluster(t)
  const four = (id: string) => ({ ...partitioned(id), partitions: 4 })
  await startRuntimeProcess(t, url, schema, 'default', four('a'))
  const b = await startRuntimeProcess(t, url, schema, 'default', four('b'))
  await eventually(async () => JSON.stringify(sorted(await shares())) === '[2,2]' || undefined, 30_000, 'the 4 partitions split between the two')
  await insert(500)
  const res = await app.inject({ method: 'PUT', url: '/observers/listeners/default?wait_seconds=0', headers: AUTH, payload: { partitions: 8 } })
  t.ok([200, 202].includes(res.statusCode), `the re-split is requested (${res.statusCode})`)
  await kill9(b)
  await insert(500)
  const switched = await eventually(async () => {
    const body = (await app.inject({ url: '/observers/listeners/default', headers: AUTH })).json()
    return body.resplit === null ? body : undefined
  }, 30_000, 'the switch, once the killed instance\'s partitions are read up to the barrier')
  t.equal(switched.partitions, 8)
  await eventually(async () => JSON.stringify(await shares()) === '{"a":8}' || undefined, 20_000, 'the survivor reads the 8 new partitions')
  await eventually(() => new Set(eventIds(sink)).size === inserted() || undefined, 30_000, 'every event delivered')
  t.equal(new Set(eventIds(sink)).size, 1000, 'nothing lost (a batch in flight at the kill may go out twice)')
})
