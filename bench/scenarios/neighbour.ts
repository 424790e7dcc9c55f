// Healthy observers beside an endpoint in trouble (SPEC 9.3): `healthy` observers send every event
// to the bench's sink and, with `neighbour`, one more observer sends the same events to a second
// sink (another port, so another endpoint) that is dead or slow. The figure is the healthy
// deliveries' rate: runtime start → every one of them made and logged, the checkpoint at the head
// and none of theirs pending. The dead- and slow-endpoint scenarios compare it with the same drain
// without the neighbour, in the same run.
import { withApp, type BenchApp, type BenchContext } from '../app.js'
import { now } from '../clock.js'
import { changeLogHead, dbOutcome, endpointRow, flushDatabase, insertChangeLog, insertObservers, readCheckpoint, retriesPending, samePosition, waitUntil, type DbOutcome, type EndpointRow } from '../data.js'
import type { Sink } from '../sink-client.js'
import type { SinkConfig, SinkStats } from '../sink-protocol.js'
import { round } from '../stats.js'
import { checkDeliveries, diagnosed, startWindow, type WindowReport } from './common.js'

export interface NeighbourSettings {
  name: string
  events: number
  healthy: number
  neighbour?: {
    sink: Sink
    /** how the second sink answers (a dead or a slow endpoint); it keeps every request's arrival time */
    answers: Partial<SinkConfig>
    retryConfig?: object
    /** after the healthy deliveries are done, before the app closes: watch the neighbour longer */
    watch?: (bench: BenchApp, endpoint: string) => Promise<void>
  }
}

export interface NeighbourReport {
  endpoint: string
  sink: Pick<SinkStats, 'requests' | 'delivered' | 'duplicates' | 'answeredStatus'>
  /** the first MAX_TIMES requests' arrival, ms after the runtime started (bench clock) */
  request_times_ms: number[]
  /** requests that arrived before the circuit's `opened_at` (all of them if it never opened), and after */
  requests_before_open: number
  requests_after_open: number
  /** the first MAX_TIMES of those after, ms after `opened_at` */
  after_open_ms: number[]
  /** its observer's logs, retries waiting and dead letters when the watch ended */
  db: DbOutcome
  /** the circuit's shared state when the watch ended (null: it never had one) */
  circuit: EndpointRow | null
  /** when the circuit opened, ms after the runtime started; null if it did not */
  opened_ms: number | null
  /** runtime start → end of the watch */
  watched_ms: number
}

/** an endpoint without a working breaker gets tens of thousands of requests: their times would fill the result */
const MAX_TIMES = 1000

export interface NeighbourResult extends WindowReport {
  events: number
  healthy_observers: number
  /** healthy deliveries owed (events × healthy observers) */
  deliveries: number
  /** runtime start → every healthy delivery made and logged, checkpoint at head */
  seconds: number
  deliveries_per_s: number
  first_delivery_ms: number
  /** first → last 2xx at the sink, healthy deliveries */
  sink_deliveries_per_s: number
  /** the longest time the healthy sink went without a new event (first 2xx of each event, sink clock) */
  longest_pause_ms: number
  neighbour: NeighbourReport | null
}

export async function drainBeside (ctx: BenchContext, sink: Sink, settings: NeighbourSettings): Promise<NeighbourResult> {
  return await withApp(ctx, `bench_${settings.name}`, {}, async (bench) => await measure(ctx, sink, bench, settings))
}

async function measure (ctx: BenchContext, sink: Sink, bench: BenchApp, settings: NeighbourSettings): Promise<Omit<NeighbourResult, 'runtime_log'>> {
  const { schema } = bench
  const { neighbour } = settings
  await sink.reset({ keepTimes: true })
  await neighbour?.sink.reset({ ...neighbour.answers, keepRequestTimes: true })
  await insertChangeLog(ctx.pool, schema, settings.events)
  // 'order' only: the runtime's own observers.endpoint announcements are change-log rows too
  const healthy = await insertObservers(ctx.pool, schema, { count: settings.healthy, url: sink.url, entityTypes: ['order'], namePrefix: 'healthy' })
  const neighbourIds = neighbour === undefined
    ? []
    : await insertObservers(ctx.pool, schema, { count: 1, url: neighbour.sink.url, entityTypes: ['order'], retryConfig: neighbour.retryConfig, namePrefix: 'neighbour' })
  const deliveries = settings.events * settings.healthy
  await flushDatabase(ctx.pool)

  const window = await startWindow(ctx, sink, settings.name)
  ctx.progress(`${settings.name}: runtime started, ${deliveries} healthy deliveries owed${neighbour === undefined ? '' : ', and as many to the neighbour'}`)
  const started = now()
  await bench.app.observers.start()
  const report = setInterval(() => {
    sink.stats().then((s) => ctx.progress(`${settings.name}: ${s.delivered}/${deliveries} delivered`), () => {})
  }, 2000)
  let done: number
  try {
    done = await diagnosed(ctx, sink, bench.app, schema, async () => await waitUntil(async () =>
      samePosition(await readCheckpoint(ctx.pool, schema), await changeLogHead(ctx.pool, schema)) && await retriesPending(ctx.pool, schema, healthy) === 0,
    'every healthy delivery to be made and logged', ctx.quick ? 120_000 : 300_000, 10))
  } finally {
    clearInterval(report)
  }
  const measured = await window.stop(bench.app)
  const seconds = (done - started) / 1000
  const neighbourReport = neighbour === undefined ? null : await watchNeighbour(ctx, bench, neighbour, neighbourIds, started)
  const { correctness, sink: stats } = await checkDeliveries(ctx, sink, schema, settings.healthy, deliveries, { observers: healthy })
  const offset = (await sink.clockOffset()).offsetMs
  const result = {
    events: settings.events,
    healthy_observers: settings.healthy,
    deliveries,
    seconds: round(seconds, 3),
    deliveries_per_s: Math.round(deliveries / seconds),
    first_delivery_ms: stats.firstAt === null ? -1 : round(stats.firstAt - offset - started, 1),
    longest_pause_ms: longestPause((await sink.times()).map(([, at]) => at)),
    sink_deliveries_per_s: stats.lastOkAt !== null && stats.firstAt !== null && stats.lastOkAt > stats.firstAt ? Math.round(stats.delivered / ((stats.lastOkAt - stats.firstAt) / 1000)) : 0,
    ...measured,
    correctness,
    neighbour: neighbourReport
  }
  ctx.progress(`${settings.name}: ${result.deliveries_per_s} healthy deliveries/s, ${correctness.ok ? 'all delivered' : correctness.problems.join('; ')}`)
  return result
}

function longestPause (times: number[]): number {
  const sorted = Float64Array.from(times).sort()
  let longest = 0
  for (let i = 1; i < sorted.length; i++) longest = Math.max(longest, sorted[i] - sorted[i - 1])
  return round(longest, 1)
}

async function watchNeighbour (ctx: BenchContext, bench: BenchApp, neighbour: NonNullable<NeighbourSettings['neighbour']>, observers: string[], started: number): Promise<NeighbourReport> {
  const endpoint = new URL(neighbour.sink.url).origin
  await neighbour.watch?.(bench, endpoint)
  const watchedMs = now() - started
  const stats = await neighbour.sink.stats()
  const offset = (await neighbour.sink.clockOffset()).offsetMs
  const circuit = await endpointRow(ctx.pool, bench.schema, endpoint)
  // the database's clock and ours are the same machine's
  const openedMs = circuit?.opened_at == null ? null : round(circuit.opened_at - started, 1)
  const times = (await neighbour.sink.requestTimes()).map((at) => round(at - offset - started, 1))
  const after = openedMs === null ? [] : times.filter((t) => t >= openedMs).map((t) => round(t - openedMs, 1))
  return {
    endpoint,
    sink: { requests: stats.requests, delivered: stats.delivered, duplicates: stats.duplicates, answeredStatus: stats.answeredStatus },
    request_times_ms: times.slice(0, MAX_TIMES),
    requests_before_open: times.length - after.length,
    requests_after_open: after.length,
    after_open_ms: after.slice(0, MAX_TIMES),
    db: await dbOutcome(ctx.pool, bench.schema, observers),
    circuit,
    opened_ms: openedMs,
    watched_ms: Math.round(watchedMs)
  }
}
