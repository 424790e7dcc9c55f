// scaleout (only when named; issue 26, SPEC 9.2): 1, 2 and 4 runtime instances, each a process of
// its own, share one listener's stream of 8 partitions (or --runtime's) on one database. For each
// count: a fresh schema, the backlog written first, the instances started together and timed until
// every delivery is made and logged (cold: their start, the first split and the JIT's warm-up in the
// window); then, the same instances warm and split, a second backlog committed in one statement and
// timed the same way (warm: the cost per delivery of a running cluster); then single-row commits at
// a steady rate, each with its NOTIFY (flowing: the common case of an application). Then, with the last
// count's instances still running, the failover and the join (scaleout-membership.ts).
import { setTimeout as sleep } from 'node:timers/promises'
import { withApp, type BenchApp, type BenchContext, type LogSummary } from '../app.js'
import { now } from '../clock.js'
import { flushDatabase, insertChangeLog, insertObservers } from '../data.js'
import { INSTANCE_POOL_MAX, mergeLogs, openInstance, type Instance } from '../instance-client.js'
import { buildPartitionIndex, partitionHeads } from '../partitions.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { checkDeliveries, type Correctness } from './common.js'
import { measureDrain, measureIdle, type IdleCost, type ScaleoutDrain } from './scaleout-drain.js'
import { failoverAndJoin, type MembershipResult } from './scaleout-membership.js'

/** the count; `--runtime '{"partitions":N}'` measures another */
const DEFAULT_PARTITIONS = 8
/** BENCH_SCALEOUT_COUNTS=1,4 measures only those counts (the first is the ratios' base) */
const INSTANCE_COUNTS = (process.env.BENCH_SCALEOUT_COUNTS ?? '1,2,4').split(',').map(Number)
/** the flowing window: commits of one row each, this many a second, for this long */
const FLOW_COMMITS_PER_S = 500
const FLOW_SECONDS = 10

export interface ScaleoutRun {
  instances: number
  partitions: number
  /** change-log rows of each backlog (the cold one, then the warm one) */
  events: number
  insert_seconds: number
  /** the instances' start() in the window */
  cold: ScaleoutDrain
  /** the same instances, split and warm; the second backlog committed in one statement starts the window */
  warm: ScaleoutDrain
  /** then `flow_events` commits of one row each, FLOW_COMMITS_PER_S a second: the window ends when the last is delivered and logged */
  flowing: ScaleoutDrain
  flow_events: number
  /** then nothing owed for a few seconds: the cost of sharing alone */
  idle: IdleCost
  /** over both backlogs */
  correctness: Correctness
  /** what the instances logged, over both drains (and the membership phase after the last count) */
  runtime_log?: LogSummary
}

export interface ScaleoutResult {
  partitions: number
  /** each instance's pool: null for the plugin's own (10 connections, from connectionString); BENCH_SCALEOUT_POOL_MAX sets one */
  instance_pool_max: number | null
  runs: ScaleoutRun[]
  /** with the last count's instances: a kill -9 and a join while events flow */
  membership: MembershipResult | null
  /** 2 and 4 instances ÷ one, cold and warm: the rate, the rate after the split, CPU per delivery */
  ratios: Record<string, number | null>
}

export async function scaleout (ctx: BenchContext, sink: Sink): Promise<ScaleoutResult> {
  const partitions = ctx.runtime.partitions ?? DEFAULT_PARTITIONS
  const runs: ScaleoutRun[] = []
  let membership: MembershipResult | null = null
  for (const count of INSTANCE_COUNTS) {
    const last = count > 1 && count === INSTANCE_COUNTS[INSTANCE_COUNTS.length - 1]
    const { result, logs } = await withApp(ctx, `bench_scaleout_${count}`, {}, async (bench) => await withInstances(ctx, bench, count, partitions, async (instances) => {
      const run = await drainTwice(ctx, sink, bench, partitions, instances)
      if (last) membership = await failoverAndJoin(ctx, sink, bench.schema, partitions, instances, 2 * run.events + run.flow_events)
      return run
    }))
    runs.push({ ...result, runtime_log: mergeLogs(logs) })
  }
  return { partitions, instance_pool_max: INSTANCE_POOL_MAX ?? null, runs, membership, ratios: ratios(runs) }
}

function ratios (runs: ScaleoutRun[]): Record<string, number | null> {
  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
    a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b, 3)
  const one = runs[0]
  const result: Record<string, number | null> = {}
  for (const run of runs.slice(1)) {
    for (const phase of ['cold', 'warm', 'flowing'] as const) {
      const [a, b] = [run[phase], one[phase]]
      result[`${phase}_rate_${run.instances}_to_1`] = ratio(a.deliveries_per_s, b.deliveries_per_s)
      result[`${phase}_after_split_rate_${run.instances}_to_1`] = ratio(a.after_split_deliveries_per_s, b.after_split_deliveries_per_s)
      result[`${phase}_runtime_cpu_per_delivery_${run.instances}_to_1`] = ratio(a.per_delivery_us.runtime, b.per_delivery_us.runtime)
      result[`${phase}_postgres_cpu_per_delivery_${run.instances}_to_1`] = ratio(a.per_delivery_us.postgres, b.per_delivery_us.postgres)
    }
  }
  return result
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

/** The cold drain (the backlog written first, the instances started together), then the warm one. */
async function drainTwice (ctx: BenchContext, sink: Sink, bench: BenchApp, partitions: number, instances: Instance[]): Promise<ScaleoutRun> {
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
  const cold = await measureDrain(ctx, sink, {
    name: `${name} cold`,
    schema,
    partitions,
    instances,
    deliveries: events,
    heads,
    begin: async () => {
      ctx.progress(`${name} cold: starting ${instances.map((i) => i.id).join(', ')} together, ${events} deliveries owed`)
      const started = now()
      await Promise.all(instances.map(async (i) => { await i.start() }))
      return started
    }
  })
  // the second backlog is written in a transaction left open, and the window starts with its
  // commit: the instances see it all at once, and writing it is not in the window
  ctx.progress(`${name} warm: writing ${events} more rows in one transaction`)
  const writer = await ctx.pool.connect()
  let warm: ScaleoutDrain
  try {
    await writer.query('begin')
    await insertChangeLog(writer, schema, events, { from: events + 1 })
    await flushDatabase(ctx.pool)
    warm = await measureDrain(ctx, sink, {
      name: `${name} warm`,
      schema,
      partitions,
      instances,
      deliveries: events,
      begin: async () => {
        await writer.query('commit')
        return now()
      }
    })
  } finally {
    await writer.query('rollback').catch(() => {})
    writer.release()
  }
  const flowEvents = FLOW_COMMITS_PER_S * (ctx.quick ? 3 : FLOW_SECONDS)
  // the backlogs' rows vacuumed first: autovacuum of 200 000 rows in a window of 5 000 deliveries
  // would be most of PostgreSQL's CPU per delivery
  await ctx.pool.query(`vacuum (analyze) "${schema}".tb_entity_change_log, "${schema}".tb_observer_log, "${schema}".observer_checkpoints`)
  await flushDatabase(ctx.pool)
  const flowing = await measureDrain(ctx, sink, {
    name: `${name} flowing`,
    schema,
    partitions,
    instances,
    deliveries: flowEvents,
    // the end is looked for every 100 ms, not 10: over a 10 s window the bench's own statements would be most of PostgreSQL's
    pollMs: 100,
    begin: async () => {
      ctx.progress(`${name} flowing: ${flowEvents} commits of one row, ${FLOW_COMMITS_PER_S} a second`)
      // its own connection, committing without waiting for the WAL flush: the pace is the writer's, not fsync's
      const writer = await ctx.pool.connect()
      try {
        await writer.query('set synchronous_commit = off')
        const started = now()
        for (let i = 0; i < flowEvents; i++) {
          await insertChangeLog(writer, schema, 1, { from: 2 * events + 1 + i, chunk: 1 })
          const ahead = started + (i + 1) * 1000 / FLOW_COMMITS_PER_S - now()
          if (ahead > 1) await sleep(ahead)
        }
        return started
      } finally {
        await writer.query('reset synchronous_commit').catch(() => {})
        writer.release()
      }
    }
  })
  const { correctness } = await checkDeliveries(ctx, sink, schema, 1, 2 * events + flowEvents, { atHead: true })
  ctx.progress(`${name}: ${correctness.ok ? 'every delivery made and logged' : correctness.problems.join('; ')}`)
  const idle = await measureIdle(ctx, instances, ctx.quick ? 2 : 5)
  ctx.progress(`${name} idle: the instances ${idle.runtime_s_per_s} and PostgreSQL ${idle.postgres_s_per_s ?? '–'} CPU s/s`)
  return { instances: instances.length, partitions, events, insert_seconds: round(insertSeconds), cold, warm, flowing, flow_events: flowEvents, idle, correctness }
}
