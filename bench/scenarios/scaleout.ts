// scaleout (only when named; issue 26, SPEC 9.2): 1, 2 and 4 runtime instances, each a process of
// its own, share one listener's stream of 8 partitions (or --runtime's) on one database. For each
// count: a fresh schema, the backlog written first, the instances started together and timed until
// every delivery is made and logged (every partition's checkpoint at its last row). Then, with the
// last count's instances still running, the failover and the join (scaleout-membership.ts).
import { withApp, type BenchApp, type BenchContext, type LogSummary } from '../app.js'
import { now } from '../clock.js'
import { measureCpu, type CpuReport } from '../cpu.js'
import { measureDbActivity, measureWal, type DbActivity } from '../db-activity.js'
import { flushDatabase, insertChangeLog, insertObservers, waitUntil } from '../data.js'
import { INSTANCE_POOL_MAX, mergeLogs, openInstance, type Instance } from '../instance-client.js'
import { loadAverage } from '../machine.js'
import { atHeads, buildPartitionIndex, fair, partitionCheckpoints, partitionHeads, partitionHolders } from '../partitions.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { checkDeliveries, type Correctness } from './common.js'
import { failoverAndJoin, type MembershipResult } from './scaleout-membership.js'

/** the count; `--runtime '{"partitions":N}'` measures another */
const DEFAULT_PARTITIONS = 8
const INSTANCE_COUNTS = [1, 2, 4]
const LISTENER = 'default'

export interface InstanceShare {
  instance_id: string
  /** action attempts this instance had answered 2xx (its own counter) */
  delivered: number
  /** its part of all the deliveries */
  share: number
  events_read: number
  cpu_s: number
  rss_peak_mb: number
}

/** measureCpu's report, with the runtime under test being the instances, not this process */
export interface ScaleoutCpu extends CpuReport {
  /** this process: the bench's polling, no runtime */
  bench_process_s: number
}

export interface ScaleoutRun {
  instances: number
  partitions: number
  events: number
  deliveries: number
  insert_seconds: number
  /** the instances' start() → every delivery made and logged (each partition's checkpoint at its last row) */
  seconds: number
  deliveries_per_s: number
  /** start() → every partition held by one of them and none holding more than its share; null if the drain ended first */
  split_fair_ms: number | null
  /** the deliveries the sink got after the split was fair ÷ the time from then to the end */
  after_split_deliveries_per_s: number | null
  per_instance: InstanceShare[]
  /** CPU µs per delivery: the instances summed, PostgreSQL, the sink (per request), the whole machine */
  per_delivery_us: { runtime: number, postgres: number | null, sink: number | null, machine: number | null }
  wal_bytes_per_delivery: number
  transactions_per_delivery: number
  cpu: ScaleoutCpu
  db_activity: DbActivity
  load_average: { start: number[], end: number[] }
  correctness: Correctness
  /** what the instances logged, over this count's drain (and the membership phase after the last one) */
  runtime_log?: LogSummary
}

export interface ScaleoutResult {
  partitions: number
  /** each instance's pool: null for the plugin's own (10 connections, from connectionString); BENCH_SCALEOUT_POOL_MAX sets one */
  instance_pool_max: number | null
  runs: ScaleoutRun[]
  /** with the last count's instances: a kill -9 and a join while events flow */
  membership: MembershipResult | null
  ratios: Record<string, number | null>
}

export async function scaleout (ctx: BenchContext, sink: Sink): Promise<ScaleoutResult> {
  const partitions = ctx.runtime.partitions ?? DEFAULT_PARTITIONS
  const runs: ScaleoutRun[] = []
  let membership: MembershipResult | null = null
  for (const count of INSTANCE_COUNTS) {
    const last = count === INSTANCE_COUNTS[INSTANCE_COUNTS.length - 1]
    const { result, logs } = await withApp(ctx, `bench_scaleout_${count}`, {}, async (bench) => await withInstances(ctx, bench, count, partitions, async (instances) => {
      const run = await drainTogether(ctx, sink, bench, partitions, instances)
      if (last) membership = await failoverAndJoin(ctx, sink, bench.schema, partitions, instances, run.events)
      return run
    }))
    runs.push({ ...result, runtime_log: mergeLogs(logs) })
  }
  const one = runs[0]
  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
    a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b, 3)
  const ratios: Record<string, number | null> = {}
  for (const run of runs.slice(1)) {
    ratios[`rate_${run.instances}_to_1`] = ratio(run.deliveries_per_s, one.deliveries_per_s)
    ratios[`after_split_rate_${run.instances}_to_1`] = ratio(run.after_split_deliveries_per_s, one.after_split_deliveries_per_s)
    ratios[`runtime_cpu_per_delivery_${run.instances}_to_1`] = ratio(run.per_delivery_us.runtime, one.per_delivery_us.runtime)
    ratios[`postgres_cpu_per_delivery_${run.instances}_to_1`] = ratio(run.per_delivery_us.postgres, one.per_delivery_us.postgres)
  }
  return { partitions, instance_pool_max: INSTANCE_POOL_MAX ?? null, runs, membership, ratios }
}

/** Opens `count` instances (plugin registered, runtime not started), runs `use`, then stops every instance still running. */
async function withInstances<T> (ctx: BenchContext, bench: BenchApp, count: number, partitions: number, use: (instances: Instance[]) => Promise<T>): Promise<{ result: T, logs: LogSummary[] }> {
  const instances: Instance[] = []
  // stopped together: each hands its partitions over while the others leave too
  const stopAll = async (): Promise<LogSummary[]> =>
    (await Promise.allSettled(instances.map(async (i) => await i.close()))).flatMap((c) => c.status === 'fulfilled' ? [c.value] : [])
  try {
    ctx.progress(`scaleout: opening ${count} instance process${count === 1 ? '' : 'es'}`)
    for (let i = 1; i <= count; i++) instances.push(await openInstance(ctx, bench.schema, `i${i}`, { partitions }))
    const result = await use(instances)
    return { result, logs: await stopAll() }
  } catch (err) {
    await stopAll()
    throw err
  }
}

async function drainTogether (ctx: BenchContext, sink: Sink, bench: BenchApp, partitions: number, instances: Instance[]): Promise<ScaleoutRun> {
  const { schema } = bench
  const events = ctx.quick ? 20_000 : 100_000
  const name = `scaleout ${instances.length}`
  await sink.reset()
  ctx.progress(`${name}: writing ${events} change-log rows`)
  const insertStart = now()
  await insertChangeLog(ctx.pool, schema, events)
  const insertSeconds = (now() - insertStart) / 1000
  await insertObservers(ctx.pool, schema, { count: 1, url: sink.url, entityTypes: null })
  await buildPartitionIndex(ctx.pool, ctx.code, schema, partitions)
  const heads = await partitionHeads(ctx.pool, ctx.code, schema, partitions)
  await flushDatabase(ctx.pool)

  const ids = instances.map((i) => i.id)
  const loadStart = loadAverage()
  const cpuBefore = await Promise.all(instances.map(async (i) => await i.cpuSeconds()))
  const cpu = await measureCpu(sink, ctx.postmaster)
  const activity = await measureDbActivity(ctx.pool)
  const wal = await measureWal(ctx.pool)
  ctx.progress(`${name}: starting ${ids.join(', ')} together, ${events} deliveries owed`)
  const started = now()
  await Promise.all(instances.map(async (i) => { await i.start() }))
  // the first moment the split was fair, and what the sink had by then
  const split: { at: number | null, delivered: number } = { at: null, delivered: 0 }
  const report = setInterval(() => {
    sink.stats().then((s) => ctx.progress(`${name}: ${s.delivered}/${events} delivered`), () => {})
  }, 2000)
  let done: number
  try {
    done = await waitUntil(async () => {
      if (split.at === null && fair(await partitionHolders(ctx.pool, schema, LISTENER), ids)) {
        split.at = now()
        split.delivered = (await sink.stats()).delivered
      }
      return atHeads(await partitionCheckpoints(ctx.pool, ctx.code, schema, LISTENER, partitions), heads)
    }, 'every delivery to be made and logged', ctx.quick ? 120_000 : 600_000, 10)
  } finally {
    clearInterval(report)
  }
  const cpuAfter = await Promise.all(instances.map(async (i) => await i.cpuSeconds()))
  const used = await cpu.stop()
  const dbActivity = await activity.stop()
  const walBytes = await wal.stop()
  const loadEnd = loadAverage()

  const { correctness, sink: stats } = await checkDeliveries(ctx, sink, schema, 1, events, {
    atHead: atHeads(await partitionCheckpoints(ctx.pool, ctx.code, schema, LISTENER, partitions), heads)
  })
  const counts = await Promise.all(instances.map(async (i) => await i.counts()))
  const delivered = counts.reduce((n, c) => n + c.delivered, 0)
  const instanceCpu = cpuAfter.map((after, k) => after - cpuBefore[k])
  const instancesS = instanceCpu.reduce((a, b) => a + b, 0)
  const seconds = (done - started) / 1000
  const perDelivery = (s: number | null, n = events): number | null => s === null ? null : round(s * 1e6 / n, 1)
  const fairAt = split.at
  const run: ScaleoutRun = {
    instances: instances.length,
    partitions,
    events,
    deliveries: events,
    insert_seconds: round(insertSeconds),
    seconds: round(seconds, 3),
    deliveries_per_s: Math.round(events / seconds),
    split_fair_ms: fairAt === null ? null : round(fairAt - started, 1),
    after_split_deliveries_per_s: fairAt === null || done <= fairAt ? null : Math.round((stats.delivered - split.delivered) / ((done - fairAt) / 1000)),
    per_instance: instances.map((i, k) => ({
      instance_id: i.id,
      delivered: counts[k].delivered,
      share: delivered === 0 ? 0 : round(counts[k].delivered / delivered, 3),
      events_read: counts[k].events_read,
      cpu_s: round(instanceCpu[k]),
      rss_peak_mb: counts[k].rss_peak_mb
    })),
    per_delivery_us: {
      runtime: perDelivery(instancesS) ?? 0,
      postgres: perDelivery(used.postgres_s),
      sink: perDelivery(used.sink_process_s, stats.requests),
      machine: perDelivery(used.machine_busy_s)
    },
    wal_bytes_per_delivery: Math.round(walBytes / events),
    transactions_per_delivery: round(dbActivity.transactions / events, 4),
    cpu: {
      ...used,
      // the runtime under test is the instances; this process only polled
      runtime_process_s: round(instancesS),
      bench_process_s: used.runtime_process_s,
      other_s: used.machine_busy_s === null || used.postgres_s === null
        ? null
        : round(Math.max(0, used.machine_busy_s - used.runtime_process_s - (used.sink_process_s ?? 0) - used.postgres_s - instancesS))
    },
    db_activity: dbActivity,
    load_average: { start: loadStart, end: loadEnd },
    correctness
  }
  ctx.progress(`${name}: ${run.deliveries_per_s} deliveries/s (split fair after ${run.split_fair_ms ?? '–'} ms), shares ${run.per_instance.map((s) => s.share).join(' / ')}, ` +
    `µs per delivery: runtime ${run.per_delivery_us.runtime}, postgres ${run.per_delivery_us.postgres}, ${correctness.ok ? 'all delivered' : correctness.problems.join('; ')}`)
  return run
}
