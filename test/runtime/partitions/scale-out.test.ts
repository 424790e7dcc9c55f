// Several instances, as real processes, share one stream through its partitions (SPEC 9.2).
import type { ChildProcess } from 'node:child_process'
import t, { type Test } from 'tap'
import { AUTH, build, eventually } from '../../helper.js'
import { startHttpTarget, type HttpTarget } from '../../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../../helpers/rows.js'
import { getDatabaseUrl } from '../../helpers/pg.js'
import { kill9, startRuntimeProcess } from '../../helpers/processes.js'

const PARTITIONS = 8
const runtime = (instanceId: string) => ({ partitions: PARTITIONS, instanceId, partitionLeaseMs: 2000, handoffDrainMs: 2000 })

async function setUp (t: Test): Promise<{ sink: HttpTarget, url: string, pool: Awaited<ReturnType<typeof build>>['pool'], schema: string, shares: () => Promise<Record<string, number>> }> {
  const sink = await startHttpTarget(t)
  const url = await getDatabaseUrl()
  const { app, pool, schema } = await build(t, { runtime: { start: false, partitions: PARTITIONS } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  const shares = async (): Promise<Record<string, number>> => {
    const body = (await app.inject({ url: '/observers/runtime/instances', headers: AUTH })).json()
    return Object.fromEntries(body.data.map((i: { instance_id: string, partitions: unknown[] }) => [i.instance_id, i.partitions.length]))
  }
  return { sink, url, pool, schema, shares }
}

const sorted = (shares: Record<string, number>): number[] => Object.values(shares).sort((a, b) => a - b)
const eventIds = (sink: HttpTarget): string[] => sink.received.map((r) => r.json.event_id as string)
let next = 0
const insertSome = async (pool: Parameters<typeof insertChanges>[0], schema: string, n: number): Promise<void> => {
  const first = next
  next += n
  await insertChanges(pool, schema, n, 'order', (i) => ({ n: first + i }))
}

t.test('3 instances split 8 partitions fairly and deliver each event exactly once; a kill -9 loses nothing', async (t) => {
  const { sink, url, pool, schema, shares } = await setUp(t)
  const a = await startRuntimeProcess(t, url, schema, 'default', runtime('a'))
  await startRuntimeProcess(t, url, schema, 'default', runtime('b'))
  await startRuntimeProcess(t, url, schema, 'default', runtime('c'))
  const fair = await eventually(async () => { const s = await shares(); return JSON.stringify(sorted(s)) === '[2,3,3]' ? s : undefined }, 20_000, 'a fair split')
  t.same(Object.keys(fair).sort(), ['a', 'b', 'c'])

  await insertSome(pool, schema, 1000)
  await sink.waitFor(1000, 30_000)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log') === 1000 || undefined, 10_000, 'every delivery logged')
  t.equal(new Set(eventIds(sink)).size, 1000, 'every event delivered')
  t.equal(sink.received.length, 1000, 'and each exactly once')

  await kill9(a)
  const killedAt = Date.now()
  await insertSome(pool, schema, 500)
  const taken = await eventually(async () => { const s = await shares(); return JSON.stringify(sorted(s)) === '[4,4]' ? s : undefined }, 10_000, 'the killed instance\'s partitions taken within 10 s')
  t.same(Object.keys(taken).sort(), ['b', 'c'])
  t.comment(`partitions of the killed instance taken after ${Date.now() - killedAt} ms`)
  await eventually(() => new Set(eventIds(sink)).size === 1500 || undefined, 20_000, 'every event delivered after the kill')
  t.equal(new Set(eventIds(sink)).size, 1500, 'nothing lost')
})

t.test('a fourth instance joins and gets its share; a graceful stop hands over with no duplicate', async (t) => {
  const { sink, url, pool, schema, shares } = await setUp(t)
  const before = next
  const children: ChildProcess[] = []
  for (const id of ['a', 'b', 'c']) children.push(await startRuntimeProcess(t, url, schema, 'default', runtime(id)))
  await eventually(async () => JSON.stringify(sorted(await shares())) === '[2,3,3]' || undefined, 20_000, 'a fair split')
  const flowing = { on: true }
  const flow = (async () => { while (flowing.on) { await insertSome(pool, schema, 20); await new Promise((resolve) => setTimeout(resolve, 20)) } })()
  t.teardown(() => { flowing.on = false })

  children.push(await startRuntimeProcess(t, url, schema, 'default', runtime('d')))
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
  await eventually(() => new Set(eventIds(sink)).size === next - before || undefined, 20_000, 'every event delivered')
  t.equal(sink.received.length, next - before, 'a join and a graceful stop deliver nothing twice')
})
