// A backlog drained by the runtime: change-log rows written first, observers added, then the
// runtime started and timed until every delivery is made, logged and the checkpoint is at the
// head. The backlog and fan-out scenarios are two settings of this one measurement.
import { withApp, type BenchApp, type BenchContext } from '../app.js'
import { now } from '../clock.js'
import { changeLogHead, flushDatabase, heldKeys, insertChangeLog, insertObservers, readCheckpoint, retriesPending, samePosition, waitUntil } from '../data.js'
import type { Sink } from '../sink-client.js'
import type { SinkConfig } from '../sink-protocol.js'
import { round } from '../stats.js'
import { checkDeliveries, diagnosed, startWindow, type WindowReport } from './common.js'

export interface DrainSettings {
  name: string
  events: number
  observers: number
  retryConfig?: object
  sink?: Partial<SinkConfig>
  /** distinct entities (default: every row its own) */
  keys?: number
  ordering?: 'none' | 'entity'
  /** deliveries that never succeed by design (the sink's failEntity): they stay held, one retry pending */
  heldDeliveries?: number
  /** more fields of each observer's webhook action, e.g. `rate_limit` */
  action?: Record<string, unknown>
  /** deliveries may wait in the retry schedule after the checkpoint has passed them (a rate limit): done once none waits */
  waitsDurably?: boolean
}

export interface DrainResult extends WindowReport {
  events: number
  observers: number
  deliveries: number
  insert_seconds: number
  /** runtime start → every delivery made and logged, checkpoint at head */
  seconds: number
  /** deliveries made and logged per second over `seconds` */
  deliveries_per_s: number
  /** runtime start → first 2xx at the sink */
  first_delivery_ms: number
  /** first → last 2xx at the sink */
  sink_deliveries_per_s: number
}

export async function drain (ctx: BenchContext, sink: Sink, settings: DrainSettings): Promise<DrainResult> {
  return await withApp(ctx, `bench_${settings.name}`, {}, async (bench) => await measure(ctx, sink, bench, settings))
}

async function measure (ctx: BenchContext, sink: Sink, bench: BenchApp, settings: DrainSettings): Promise<Omit<DrainResult, 'runtime_log'>> {
  const schema = bench.schema
  await sink.reset(settings.sink)
  ctx.progress(`${settings.name}: writing ${settings.events} change-log rows`)
  const insertStart = now()
  await insertChangeLog(ctx.pool, schema, settings.events, { keys: settings.keys })
  const insertSeconds = (now() - insertStart) / 1000
  await insertObservers(ctx.pool, schema, { count: settings.observers, url: sink.url, entityTypes: null, retryConfig: settings.retryConfig, ordering: settings.ordering, action: settings.action })
  const head = await changeLogHead(ctx.pool, schema)
  const held = settings.heldDeliveries ?? 0
  const deliveries = settings.events * settings.observers - held
  await flushDatabase(ctx.pool)

  const window = await startWindow(ctx, sink, settings.name)
  ctx.progress(`${settings.name}: runtime started, ${deliveries} deliveries owed`)
  const started = now()
  await bench.app.observers.start()
  const report = setInterval(() => {
    sink.stats().then((s) => ctx.progress(`${settings.name}: ${s.delivered}/${deliveries} delivered, ${s.answered500} answered 500`), () => {})
  }, 2000)
  let done: number
  try {
    // with held deliveries, done is: everything else delivered, and the held ones parked behind their one retry
    done = await diagnosed(ctx, sink, bench.app, schema, async () => await waitUntil(async () => samePosition(await readCheckpoint(ctx.pool, schema), head) &&
        (held === 0 ? (settings.retryConfig === undefined && settings.waitsDurably !== true) || await retriesPending(ctx.pool, schema) === 0 : (await heldKeys(ctx.pool, schema)).parked === held - 1),
    'every delivery to be made and logged', ctx.quick ? 120_000 : 600_000, 10))
  } finally {
    clearInterval(report)
  }
  const measured = await window.stop(bench.app)
  const seconds = (done - started) / 1000
  const { correctness, sink: stats } = await checkDeliveries(ctx, sink, schema, settings.observers, deliveries, { retriesOwed: held > 0 ? 1 : 0 })
  const offset = (await sink.clockOffset()).offsetMs
  const sinkSpan = stats.lastOkAt !== null && stats.firstAt !== null ? (stats.lastOkAt - stats.firstAt) / 1000 : 0
  const result = {
    events: settings.events,
    observers: settings.observers,
    deliveries,
    insert_seconds: round(insertSeconds),
    seconds: round(seconds, 3),
    deliveries_per_s: Math.round(deliveries / seconds),
    first_delivery_ms: stats.firstAt === null ? -1 : round(stats.firstAt - offset - started, 1),
    sink_deliveries_per_s: sinkSpan > 0 ? Math.round(stats.delivered / sinkSpan) : 0,
    ...measured,
    correctness
  }
  ctx.progress(`${settings.name}: ${result.deliveries_per_s} deliveries/s, peak RSS ${measured.memory.rss_peak_mb} MB, ${correctness.ok ? 'all delivered' : correctness.problems.join('; ')}`)
  return result
}
