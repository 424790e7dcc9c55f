// How far the reader reads ahead of the actions: enough batches to keep `concurrency` busy, never
// more than `channelCapacity` deliveries. Events read further ahead only wait in memory. The bound
// is the instance's, however many partitions it reads.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'
import { partitionOf } from '../../lib/db/partitions.repo.js'

async function heldBack (t: Parameters<typeof build>[0], runtime: { batchSize: number, concurrency: number, channelCapacity: number, partitions?: number }, expected: number, atMost = expected): Promise<void> {
  const sink = await startHttpTarget(t)
  const held: ServerResponse[] = []
  sink.respond = (_req, res) => { held.push(res) }
  // one endpoint here: its own share of the slots (maxInFlightPerEndpoint) is not what is measured
  const { app, pool, schema } = await build(t, { runtime: { ...runtime, maxInFlightPerEndpoint: 1000, pollIntervalMs: 10 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 200)
  await sink.waitFor(Math.min(runtime.concurrency, expected))
  await eventually(() => app.observers.inFlight() >= expected || sink.received.length === expected, 10_000, `${expected} deliveries in flight`)
  // once every delivery read has started, the held attempts are handed over after HANDOVER_MS:
  // their batches commit them as claimed retries and the checkpoint moves past them, yet they keep
  // their room in channelCapacity (deliveries still queued for a slot hold their batch instead)
  if (sink.received.length === expected) {
    await eventually(async () => await countRows(pool, schema, 'tb_observer_retry', 'claimed_until > now()') === expected || undefined, 10_000, 'the held attempts handed over')
  }
  // rows read so far: those behind the checkpoint and those in batches still in flight
  const partitions = runtime.partitions ?? 1
  const read = async (): Promise<number> => {
    // each row behind its own stream's checkpoint (the listener's, or its partition's)
    const stream = partitions === 1 ? "'default'" : `'default#' || ${partitionOf(partitions, 'c.object_type', 'c.object_id')}`
    const { rows: [{ n }] } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log c
      join "${schema}".observer_checkpoints k on k.listener_id = ${stream}
      where (c.txid, c.pk_entity_change_log) <= (k.last_txid, k.last_change_log_id)`)
    return n + app.observers.inFlight()
  }
  // the reader polls every 10 ms meanwhile: were the handed-over attempts' room given back, it would read on
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    t.ok(await read() <= atMost, `at most ${atMost} rows read while the attempts are held`)
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

t.test('an instance reading several partitions reads ahead as much as one stream, and each partition a batch', async (t) => {
  // 3 batches for the instance, but every partition with rows may have one: 4 batches of 10 at
  // least, 6 at most (the first partition taken may have read 3 before the others came)
  await heldBack(t, { batchSize: 10, concurrency: 4, channelCapacity: 1000, partitions: 4 }, 40, 60)
})
