import t, { type Test } from 'tap'
import { build, eventually } from '../helper.js'
import { startHttpTarget, type HttpTarget } from '../helpers/http-target.js'
import { insertChanges, insertObserver } from '../helpers/rows.js'
import { counterValue } from '../helpers/metrics.js'

const deliveredIds = (sink: HttpTarget): string[] => sink.received.map((r) => r.json.entity_id)
const count = (sink: HttpTarget, id: string): number => deliveredIds(sink).filter((x) => x === id).length

t.test('out-of-order commits: both delivered once, the later one without waiting for the open one; rollbacks never', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { horizonStallMs: 300 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()

  const early = await pool.connect()
  const late = await pool.connect()
  const aborted = await pool.connect()
  t.teardown(() => { early.release(); late.release(); aborted.release() })

  await early.query('begin')
  const [earlyId] = await insertChanges(early, schema, 1, 'order', () => ({ n: 'early' }))
  await late.query('begin')
  const [lateId] = await insertChanges(late, schema, 1, 'order', () => ({ n: 'late' }))
  t.ok(BigInt(earlyId) < BigInt(lateId), 'the open transaction holds the lower id')
  await late.query('commit')

  // the later-numbered row is delivered while the earlier transaction is still open
  await eventually(() => count(sink, 'late') === 1, 10_000, 'the committed row past an open transaction')
  t.equal(count(sink, 'early'), 0, 'the uncommitted row is not delivered')
  const { rows: [{ pid }] } = await early.query('select pg_backend_pid() as pid')
  // other test files share the cluster and move the horizon too: wait until ours is the one held
  const health = await eventually(async () => {
    const h = await app.observers.health()
    return h.horizon_held?.pid === pid ? h : undefined
  }, 10_000, 'health naming the open transaction')
  t.ok(health.horizon_held?.since, 'health reports since when the horizon is held')
  t.equal(health.status, 'degraded')

  await aborted.query('begin')
  await insertChanges(aborted, schema, 1, 'order', () => ({ n: 'rolled-back' }))
  await aborted.query('rollback')

  await early.query('commit')
  await eventually(() => count(sink, 'early') === 1, 10_000, 'the late committer')
  // a marker after everything: once it is delivered the reader has passed every row above
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'marker' }))
  await eventually(() => count(sink, 'marker') === 1, 10_000, 'the marker')
  await eventually(async () => (await app.observers.health()).lag_events === 0, 10_000, 'no lag')
  t.equal(count(sink, 'late'), 1, 'the row read beyond the horizon is not delivered again')
  t.equal(count(sink, 'early'), 1, 'the late committer is delivered exactly once')
  t.equal(count(sink, 'rolled-back'), 0, 'a rolled-back row is never delivered')
  // health's lag is the reader's position; the commit that empties the ledger may still be on its way
  const emptied = await eventually(async () => {
    const { rows } = await pool.query(`select count(*)::int as n from "${schema}".tb_change_log_ahead`)
    return rows[0].n === 0
  }, 10_000, 'the ledger emptied').then(() => true, () => false)
  t.ok(emptied, 'the ledger is emptied once the checkpoint passes its rows')
})

// A runtime with one webhook observer, and a transaction left open (it holds the horizon) until
// the test ends it or tears down. The poll interval is a minute: only the reader's own return can
// deliver a held-back row in time.
async function withOpenTransaction (t: Test, horizonStallMs: number) {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { pollIntervalMs: 60_000, horizonStallMs } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  const holder = await pool.connect()
  t.teardown(async () => { await holder.query('rollback'); holder.release() })
  await holder.query('begin')
  await holder.query('select pg_current_xact_id()')
  return { sink, app, pool, schema, holder }
}

// No NOTIFY says when an open transaction ends: the reader comes back on its own while committed
// rows wait behind one.
t.test('a row held back by an open transaction goes out as soon as the transaction ends, not at the next poll', async (t) => {
  const { sink, app, pool, schema, holder } = await withOpenTransaction(t, 60_000)
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'held' }))
  await eventually(async () => await counterValue(app.observers.metrics, 'observers_change_log_reads_total', { result: 'held' }) >= 1, 10_000, 'a read that finds the row held back')
  t.equal(count(sink, 'held'), 0, 'not delivered while the horizon holds it')
  await holder.query('commit')
  await eventually(() => count(sink, 'held') === 1, 10_000, 'the row, once the holder has ended')
  t.pass('delivered with no further NOTIFY and long before the next poll')
})

t.test('the stall path starts on time when the poll interval is longer than horizonStallMs', async (t) => {
  const { sink, pool, schema, holder } = await withOpenTransaction(t, 200)
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'past the holder' }))
  await eventually(() => count(sink, 'past the holder') === 1, 10_000, 'the row read around the open transaction')
  const { rows } = await holder.query('select pg_current_xact_id_if_assigned() is not null as open')
  t.equal(rows[0].open, true, 'delivered while the holder is still open')
})

t.test('many concurrent writers committing in random order: every row exactly once', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { horizonStallMs: 200 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  const writers = 8
  const perWriter = 25
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    const client = await pool.connect()
    try {
      for (let i = 0; i < perWriter; i++) {
        await client.query('begin')
        await insertChanges(client, schema, 1, 'order', () => ({ n: `${w}-${i}` }))
        // hold some transactions open across others' commits
        if ((w + i) % 3 === 0) await new Promise((resolve) => setImmediate(resolve))
        await client.query(i % 7 === 3 ? 'rollback' : 'commit')
      }
    } finally {
      client.release()
    }
  }))
  const committed = writers * perWriter - Array.from({ length: writers * perWriter }, (_, k) => k % perWriter).filter((i) => i % 7 === 3).length
  await eventually(() => new Set(deliveredIds(sink)).size === committed || undefined, 20_000, 'every committed row')
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'marker' }))
  await eventually(() => count(sink, 'marker') === 1, 10_000, 'the marker')
  t.equal(sink.received.length, committed + 1, 'no row delivered twice')
  t.notOk(deliveredIds(sink).some((id) => /^\d+-(3|10|17|24)$/.test(id)), 'no rolled-back row delivered')
})
