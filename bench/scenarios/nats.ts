// nats: the backlog's 100 000 change-log rows, one observer whose action publishes each event to one
// JetStream stream (file storage) on a nats-server started here, and waits for every ack. Reported
// beside the webhook backlog of the same run: deliveries/s and their ratio.
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { withApp, type BenchApp, type BenchContext } from '../app.js'
import { now } from '../clock.js'
import { processCpuSeconds } from '../cpu.js'
import { changeLogHead, dbOutcome, flushDatabase, insertChangeLog, insertObservers, readCheckpoint, retriesPending, samePosition, waitUntil, type DbOutcome } from '../data.js'
import { startNatsServer, type BenchNatsServer } from '../nats-server.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { startWindow, type WindowReport } from './common.js'
import type { DrainResult } from './drain.js'

const STREAM = 'BENCH'

export interface NatsCorrectness {
  ok: boolean
  problems: string[]
  expected_deliveries: number
  /** messages the stream holds at the end: one per delivery, whatever was retried */
  stream_messages: number
  db: DbOutcome
  checkpoint_at_head: boolean
}

export interface NatsResult extends Omit<WindowReport, 'correctness'> {
  events: number
  deliveries: number
  insert_seconds: number
  /** runtime start → every publish acknowledged and logged, checkpoint at head */
  seconds: number
  deliveries_per_s: number
  /** CPU seconds of the nats-server process over the window (counted in cpu.other_s too) */
  nats_server_s: number | null
  /** ÷ the webhook backlog's deliveries/s in the same run (null when it did not run) */
  to_backlog: number | null
  correctness: NatsCorrectness
}

async function streamMessages (url: string): Promise<number> {
  const nc = await connect({ servers: url })
  try {
    return (await (await jetstreamManager(nc)).streams.info(STREAM)).state.messages
  } finally {
    await nc.close()
  }
}

async function measure (ctx: BenchContext, sink: Sink, bench: BenchApp, server: BenchNatsServer, backlog: DrainResult | undefined): Promise<Omit<NatsResult, 'runtime_log'>> {
  const { schema } = bench
  const events = ctx.quick ? 20_000 : 100_000
  const nc = await connect({ servers: server.url })
  await (await jetstreamManager(nc)).streams.add({ name: STREAM, subjects: ['bench.>'] })
  await nc.close()
  ctx.progress(`nats: writing ${events} change-log rows`)
  const insertStart = now()
  await insertChangeLog(ctx.pool, schema, events)
  const insertSeconds = (now() - insertStart) / 1000
  await insertObservers(ctx.pool, schema, { count: 1, url: server.url, entityTypes: null, actions: [{ type: 'nats', servers: server.url, subject: 'bench.{{ entity_type }}' }] })
  const head = await changeLogHead(ctx.pool, schema)
  await flushDatabase(ctx.pool)

  const window = await startWindow(ctx, sink, 'nats')
  const natsCpu = processCpuSeconds(server.pid)
  ctx.progress(`nats: runtime started, ${events} publishes owed`)
  const started = now()
  await bench.app.observers.start()
  const done = await waitUntil(async () => samePosition(await readCheckpoint(ctx.pool, schema), head) && await retriesPending(ctx.pool, schema) === 0,
    'every publish to be acknowledged and logged', ctx.quick ? 120_000 : 600_000, 10)
  const measured = await window.stop(bench.app)
  const natsCpuEnd = processCpuSeconds(server.pid)
  const seconds = (done - started) / 1000
  const db = await dbOutcome(ctx.pool, schema)
  const messages = await streamMessages(server.url)
  const problems: string[] = []
  if (messages !== events) problems.push(`the stream holds ${messages} messages, ${events} owed`)
  if (db.logs_success !== events) problems.push(`${db.logs_success} successes logged, ${events} owed`)
  if (db.dead_letters > 0) problems.push(`${db.dead_letters} dead letters`)
  const deliveriesPerS = Math.round(events / seconds)
  const result = {
    events,
    deliveries: events,
    insert_seconds: round(insertSeconds),
    seconds: round(seconds, 3),
    deliveries_per_s: deliveriesPerS,
    nats_server_s: natsCpu === null || natsCpuEnd === null ? null : round(natsCpuEnd - natsCpu),
    to_backlog: backlog === undefined ? null : round(deliveriesPerS / backlog.deliveries_per_s, 3),
    ...measured,
    correctness: { ok: problems.length === 0, problems, expected_deliveries: events, stream_messages: messages, db, checkpoint_at_head: true }
  }
  ctx.progress(`nats: ${deliveriesPerS} deliveries/s${backlog === undefined ? '' : ` (${result.to_backlog} of the backlog's ${backlog.deliveries_per_s})`}, ${problems.length === 0 ? 'one message per delivery' : problems.join('; ')}`)
  return result
}

/** Needs Debian's nats-server on PATH. */
export async function natsBacklog (ctx: BenchContext, sink: Sink, backlog: DrainResult | undefined): Promise<NatsResult> {
  const server = await startNatsServer()
  try {
    return await withApp(ctx, 'bench_nats', {}, async (bench) => await measure(ctx, sink, bench, server, backlog))
  } finally {
    await server.stop()
  }
}
