// Several instances, as real processes, share one stream through its partitions (SPEC 9.2).
import type { ChildProcess } from 'node:child_process'
import t from 'tap'
import { build, eventually } from '../../helper.js'
import { cluster, keyedWriter, eventIds, outOfOrder, partitioned, sorted } from '../../helpers/partitions.js'
import { countRows } from '../../helpers/rows.js'
import { kill9, startRuntimeProcess } from '../../helpers/processes.js'

t.test('3 instances split 8 partitions fairly and deliver each event exactly once; a kill -9 loses nothing', async (t) => {
  const { sink, url, pool, schema, shares, insert } = await cluster(t)
  const a = await startRuntimeProcess(t, url, schema, 'default', partitioned('a'))
  await startRuntimeProcess(t, url, schema, 'default', partitioned('b'))
  await startRuntimeProcess(t, url, schema, 'default', partitioned('c'))
  const fair = await eventually(async () => { const s = await shares(); return JSON.stringify(sorted(s)) === '[2,3,3]' ? s : undefined }, 30_000, 'a fair split')
  t.same(Object.keys(fair).sort(), ['a', 'b', 'c'])

  await insert(1000)
  await sink.waitFor(1000, 30_000)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log') === 1000 || undefined, 10_000, 'every delivery logged')
  t.equal(new Set(eventIds(sink)).size, 1000, 'every event delivered')
  t.equal(sink.received.length, 1000, 'and each exactly once')

  await kill9(a)
  const killedAt = Date.now()
  await insert(500)
  const taken = await eventually(async () => { const s = await shares(); return JSON.stringify(sorted(s)) === '[4,4]' ? s : undefined }, 10_000, 'the killed instance\'s partitions taken within 10 s')
  t.same(Object.keys(taken).sort(), ['b', 'c'])
  t.comment(`partitions of the killed instance taken after ${Date.now() - killedAt} ms`)
  await eventually(() => new Set(eventIds(sink)).size === 1500 || undefined, 20_000, 'every event delivered after the kill')
  t.equal(new Set(eventIds(sink)).size, 1500, 'nothing lost')
})

t.test('a fourth instance joins and gets its share; a graceful stop hands over with no duplicate, in order per key', async (t) => {
  const { sink, url, pool, schema, shares } = await cluster(t, { ordering: 'entity' })
  const { insert: insertKeyed, written } = keyedWriter(pool, schema)
  const children: ChildProcess[] = []
  for (const id of ['a', 'b', 'c']) children.push(await startRuntimeProcess(t, url, schema, 'default', partitioned(id)))
  await eventually(async () => JSON.stringify(sorted(await shares())) === '[2,3,3]' || undefined, 30_000, 'a fair split')
  const flowing = { on: true }
  const flow = (async () => { while (flowing.on) { await insertKeyed(20); await new Promise((resolve) => setTimeout(resolve, 20)) } })()
  t.teardown(() => { flowing.on = false })

  children.push(await startRuntimeProcess(t, url, schema, 'default', partitioned('d')))
  const joinedAt = Date.now()
  const joined = await eventually(async () => { const s = await shares(); return JSON.stringify(sorted(s)) === '[2,2,2,2]' ? s : undefined }, 10_000, 'the fourth instance gets its share within 10 s')
  t.equal(joined.d, 2)
  t.comment(`the joining instance had its share after ${Date.now() - joinedAt} ms`)

  const stopped = new Promise((resolve) => children[0].once('exit', resolve))
  children[0].kill('SIGTERM')
  await stopped
  await eventually(async () => JSON.stringify(sorted(await shares())) === '[2,3,3]' || undefined, 10_000, 'the stopped instance\'s partitions taken over')
  flowing.on = false
  await flow
  await eventually(() => new Set(eventIds(sink)).size === written() || undefined, 60_000, 'every event delivered')
  t.equal(sink.received.length, written(), 'a join and a graceful stop deliver nothing twice')
  t.same(outOfOrder(sink), [], 'and every key got its changes in the order they were made')
})

t.test('a start with another partition count than the listener runs with is refused, naming the route that changes it', async (t) => {
  const { app, schema, pool } = await build(t, { runtime: { start: false, partitions: 8 } })
  await app.observers.start()
  await app.observers.stop()
  const other = await build(t, { runtime: { start: false, partitions: 4 } }, { pool, schema })
  await t.rejects(other.app.observers.start(), /runtime\.partitions is 4, but listener 'default' runs with 8 partitions: change it with PUT \/observers\/listeners\/default \{ "partitions": 4 \}/)
})
