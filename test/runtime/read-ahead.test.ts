// How far the reader reads ahead of the actions: enough batches to keep `concurrency` busy, never
// more than `channelCapacity` deliveries. Events read further ahead only wait in memory.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'

async function heldBack (t: Parameters<typeof build>[0], runtime: { batchSize: number, concurrency: number, channelCapacity: number }, expected: number): Promise<void> {
  const sink = await startHttpTarget(t)
  const held: ServerResponse[] = []
  sink.respond = (_req, res) => { held.push(res) }
  // one endpoint here: its own share of the slots (maxInFlightPerEndpoint) is not what is measured
  const { app, pool, schema } = await build(t, { runtime: { ...runtime, maxInFlightPerEndpoint: 1000, pollIntervalMs: 10 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 200)
  await sink.waitFor(Math.min(runtime.concurrency, expected))
  await eventually(() => app.observers.inFlight() === expected || sink.received.length === expected, 10_000, `${expected} deliveries in flight`)
  // once every delivery read has started, the held attempts are handed over after HANDOVER_MS:
  // their batches commit them as claimed retries and the checkpoint moves past them, yet they keep
  // their room in channelCapacity (deliveries still queued for a slot hold their batch instead)
  if (sink.received.length === expected) {
    await eventually(async () => await countRows(pool, schema, 'tb_observer_retry', 'claimed_until > now()') === expected || undefined, 10_000, 'the held attempts handed over')
  }
  // rows read so far: those behind the checkpoint and those in batches still in flight
  const read = async (): Promise<number> => {
    const { rows: [{ n }] } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log c
      where c.pk_entity_change_log <= coalesce((select last_change_log_id from "${schema}".observer_checkpoints), 0)`)
    return n + app.observers.inFlight()
  }
  // the reader polls every 10 ms meanwhile: were the handed-over attempts' room given back, it would read on
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    t.ok(await read() <= expected, `at most ${expected} rows read while the attempts are held`)
  }
  t.equal(sink.received.length, Math.min(runtime.concurrency, expected), 'no more actions running than allowed')
  sink.respond = (_req, res) => { res.writeHead(200).end('ok') }
  for (const res of held.splice(0)) res.writeHead(200).end('ok')
  t.equal(await eventually(async () => { const n = await countRows(pool, schema, 'tb_observer_log'); return n === 200 && n }), 200, 'then everything is delivered')
}

t.test('with few action slots, three batches are read ahead, not channelCapacity worth', async (t) => {
  await heldBack(t, { batchSize: 10, concurrency: 4, channelCapacity: 1000 }, 30)
})

t.test('channelCapacity bounds the deliveries in flight whatever the concurrency', async (t) => {
  await heldBack(t, { batchSize: 10, concurrency: 100, channelCapacity: 15 }, 15)
})
