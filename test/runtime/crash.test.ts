import t from 'tap'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'
import { getDatabaseUrl } from '../helpers/pg.js'
import { kill9, startRuntimeProcess } from '../helpers/processes.js'

t.test('SIGKILL in the middle of a 1000-event backlog loses nothing', async (t) => {
  const sink = await startHttpTarget(t)
  const url = await getDatabaseUrl()
  // migrate the schema and define the observer, without a runtime in this process
  const { pool, schema } = await build(t, { runtime: { start: false } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await insertChanges(pool, schema, 1000)

  const first = await startRuntimeProcess(t, url, schema)
  await sink.waitFor(200, 30_000)
  await kill9(first)
  const atKill = sink.received.length
  t.ok(atKill < 1000, `killed mid-backlog (${atKill} deliveries so far)`)

  await startRuntimeProcess(t, url, schema)
  const unique = await eventually(() => {
    const ids = new Set(sink.received.map((r) => r.json.event_id))
    return ids.size === 1000 ? ids : undefined
  }, 30_000, 'every event delivered')
  t.equal(unique.size, 1000, 'every event delivered at least once after the restart')
  const duplicates = sink.received.length - unique.size
  t.comment(`duplicates after kill -9: ${duplicates} (deliveries in flight or not yet committed when the process died)`)
  // bounded by the batches delivered but not committed: at most ceil(200 / 50) + 1 batches of 50
  t.ok(duplicates <= 250, 'duplicates are bounded by what was in flight')
  const keyByEvent = new Map<string, string>()
  let changedKeys = 0
  for (const r of sink.received) {
    const key = r.headers['webhook-id'] as string
    if ((keyByEvent.get(r.json.event_id) ?? key) !== key) changedKeys++
    keyByEvent.set(r.json.event_id, key)
  }
  t.equal(changedKeys, 0, 'a replayed delivery carries the idempotency key of the first')
  await eventually(async () => (await countRows(pool, schema, 'tb_observer_log', "status = 'success'")) >= 1000 || undefined, 30_000)
})
