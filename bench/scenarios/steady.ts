// steady: 200 events/s for 30 s, one INSERT per transaction on a client of its own, paced.
// Latency = the sink's receive time (converted to our clock) − the moment our COMMIT returned.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { withApp, type BenchApp, type BenchContext } from '../app.js'
import { now } from '../clock.js'
import { atOrPast, changeLogHead, flushDatabase, insertObservers, readCheckpoint, sampleOrder, waitUntil } from '../data.js'
import type { ClockOffset, Sink } from '../sink-client.js'
import { distribution, round, type Distribution } from '../stats.js'
import { checkDeliveries, diagnosed, startWindow, type WindowReport } from './common.js'

const WARMUP_EVENTS = 50

export interface SteadyResult extends WindowReport {
  rate_per_s: number
  seconds: number
  events: number
  /** events written (and delivered) before the timed run, to open connections; not in the figures */
  warmup_events: number
  achieved_rate_per_s: number
  /** BEGIN + INSERT + COMMIT, as the writer saw it */
  insert_ms: Distribution
  /** COMMIT returned → sink received */
  latency_ms: Distribution
  clock: { before: ClockOffset, after: ClockOffset }
}

/** Work beside the steady load (the retention scenario): data written first, then run during the timed window. */
export interface Beside {
  prepare: (bench: BenchApp) => Promise<void>
  /** started with the timed window; awaited (and reported) after it */
  run: (bench: BenchApp) => Promise<unknown>
}

export async function steady (ctx: BenchContext, sink: Sink, beside?: Beside, schema = 'bench_steady'): Promise<SteadyResult & { beside?: unknown }> {
  return await withApp(ctx, schema, {}, async (bench) => await measure(ctx, sink, bench, beside))
}

async function measure (ctx: BenchContext, sink: Sink, bench: BenchApp, beside?: Beside): Promise<Omit<SteadyResult, 'runtime_log'> & { beside?: unknown }> {
  const rate = 200
  const seconds = ctx.quick ? 5 : 30
  const events = rate * seconds
  const writer = new pg.Client({ connectionString: ctx.url, application_name: 'bench-steady-writer' })
  writer.on('error', () => {})
  await writer.connect()
  try {
    await insertObservers(ctx.pool, bench.schema, { count: 1, url: sink.url, entityTypes: null })
    await beside?.prepare(bench)
    await flushDatabase(ctx.pool)
    await bench.app.observers.start()
    const insert = `insert into "${bench.schema}".tb_entity_change_log (id, object_type, object_id, modification_type, object_data)
      values ($1, 'order', $2, 'INSERT', $3)`
    const write = async (n: number): Promise<{ id: string, committedAt: number, took: number }> => {
      const id = randomUUID()
      const began = now()
      await writer.query('begin')
      await writer.query(insert, [id, String(n), sampleOrder(n, { bench_id: id })])
      await writer.query('commit')
      const committedAt = now()
      return { id, committedAt, took: committedAt - began }
    }
    const caughtUp = async (what: string): Promise<void> => {
      const head = await changeLogHead(ctx.pool, bench.schema)
      await diagnosed(ctx, sink, bench.app, bench.schema, async () =>
        // past the head of the moment: a job beside the load (a backfill) goes on writing rows
        await waitUntil(async () => atOrPast(await readCheckpoint(ctx.pool, bench.schema), head), what, 60_000, 10))
    }

    ctx.progress(`steady: warming up (${WARMUP_EVENTS} events)`)
    await sink.reset({ keepTimes: true })
    for (let i = 0; i < WARMUP_EVENTS; i++) {
      await write(-1 - i)
      await sleep(1000 / rate)
    }
    await caughtUp('the warm-up events')

    const before = await sink.clockOffset()
    ctx.progress(`steady: ${rate} events/s for ${seconds} s`)
    const window = await startWindow(ctx, sink, 'steady')
    const besideRun = beside?.run(bench)
    const committed = new Map<string, number>()
    const took: number[] = []
    const start = now()
    for (let i = 0; i < events; i++) {
      // paced against the schedule, not the previous insert: a slow insert is not followed by a gap
      const wait = start + i * (1000 / rate) - now()
      if (wait >= 1) await sleep(wait)
      const w = await write(i)
      committed.set(w.id, w.committedAt)
      took.push(w.took)
    }
    const writtenIn = (now() - start) / 1000
    await caughtUp('every steady event to be delivered')
    const measured = await window.stop(bench.app)
    const besideResult = await besideRun
    const after = await sink.clockOffset()
    const offset = (before.offsetMs + after.offsetMs) / 2
    const latencies: number[] = []
    for (const [id, at] of await sink.times()) {
      const commit = committed.get(id)
      if (commit !== undefined) latencies.push(at - offset - commit)
    }
    const { correctness } = await checkDeliveries(ctx, sink, bench.schema, 1, events + WARMUP_EVENTS)
    if (latencies.length !== events) {
      correctness.problems.push(`${events - latencies.length} timed events have no receive time`)
      correctness.ok = false
    }
    const latency = distribution(latencies)
    ctx.progress(`steady: latency p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms`)
    return {
      rate_per_s: rate,
      seconds,
      events,
      warmup_events: WARMUP_EVENTS,
      achieved_rate_per_s: round(events / writtenIn, 1),
      insert_ms: distribution(took),
      latency_ms: latency,
      clock: { before, after },
      ...measured,
      correctness,
      ...(beside === undefined ? {} : { beside: besideResult })
    }
  } finally {
    await writer.end()
  }
}
