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
  // the reader keeps polling every 10 ms meanwhile, and the held attempts are handed over (their
  // batches commit) after HANDOVER_MS: they still count against channelCapacity until they end
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    t.ok(app.observers.inFlight() <= expected, `at most ${expected} rows in flight`)
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
