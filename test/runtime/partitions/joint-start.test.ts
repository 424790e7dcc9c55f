// Instances started together split the partitions once: the first to start does not take them all
// only to hand most of them over a tick later (each hand-over drains what is in flight, and shows as
// a second term of the partition). And what is the listener's, not theirs, is measured by one.
import t from 'tap'
import { build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { insertChanges, insertObserver } from '../../helpers/rows.js'

t.test('two instances started 100 ms apart each take half the partitions, and each partition is taken once', async (t) => {
  const sink = await startHttpTarget(t)
  const runtime = { start: false, partitions: 4, partitionLeaseMs: 2000 }
  const first = await build(t, { runtime: { ...runtime, instanceId: 'first' } })
  const { pool, schema } = first
  const second = await build(t, { runtime: { ...runtime, instanceId: 'second' } }, { pool, schema })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await insertChanges(pool, schema, 200)
  const started = Math.floor(Date.now() / 1000)
  await first.app.observers.start()
  await new Promise((resolve) => setTimeout(resolve, 100))
  await second.app.observers.start()
  await sink.waitFor(200, 30_000)
  const rows = await eventually(async () => {
    const { rows } = await pool.query<{ partition: number, holder: string | null, term: string }>(
      `select partition, holder, term::text as term from "${schema}".tb_observer_partition order by partition`)
    const held = rows.filter((r) => r.holder !== null)
    return held.length === 4 && ['first', 'second'].every((id) => held.filter((r) => r.holder === id).length === 2) ? rows : undefined
  }, 10_000, 'two partitions held by each')
  t.same(rows.map((r) => r.term), ['1', '1', '1', '1'], 'no partition handed over from one to the other')
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 200, 'every event delivered')
  t.equal(sink.received.length, 200, 'once')
  // the listener's lag is the same seen from either: one of them measures it for the overview
  const lagSamplers = await eventually(async () => {
    // a lag sampled 5 s after the start: every instance has had its second write by then
    const { rows } = await pool.query<{ latest: string | null, samplers: number }>(
      `select max(second)::text as latest, count(distinct instance_id)::int as samplers
         from "${schema}".tb_observer_throughput where lag_events is not null`)
    return Number(rows[0].latest) >= started + 5 ? rows[0].samplers : undefined
  }, 15_000, 'the lag sampled twice')
  t.equal(lagSamplers, 1, 'one instance measures the lag')
  await Promise.all([first.app.observers.stop(), second.app.observers.stop()])
})
