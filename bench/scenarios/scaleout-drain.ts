// One measured drain of the scale-out scenario: the instances already open, a backlog owed, `begin`
// (their start, or the commit of a backlog they will see at once) starts the window, which ends
// when every delivery is made and logged. Counts what each instance did and what every process
// spent.
import { setTimeout as sleep } from 'node:timers/promises'
import type { BenchContext } from '../app.js'
import { now } from '../clock.js'
import { measureCpu, type CpuReport } from '../cpu.js'
import { measureDbActivity, measureWal, type DbActivity } from '../db-activity.js'
import { retriesPending, waitUntil, type Position } from '../data.js'
import type { Instance } from '../instance-client.js'
import type { InstanceCounts } from '../instance-protocol.js'
import { loadAverage } from '../machine.js'
import { atHeads, fair, partitionCheckpoints, partitionHeads, partitionHolders } from '../partitions.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'

const LISTENER = 'default'

export interface InstanceShare {
  instance_id: string
  /** action attempts this instance had answered 2xx in the window (its own counter) */
  delivered: number
  /** its part of all the deliveries */
  share: number
  events_read: number
  cpu_s: number
  /** since the process registered the plugin */
  rss_peak_mb: number
  /** what the window cost in counts, per delivery of this instance: reads (by result), batches, system calls, context switches */
  per_delivery: { reads: number, empty_reads: number, batches: number, read_syscalls: number, write_syscalls: number, voluntary_switches: number, involuntary_switches: number, main_thread_us: number, other_threads_us: number }
}

/** measureCpu's report, with the runtime under test being the instances, not this process */
export interface ScaleoutCpu extends CpuReport {
  /** this process: the bench's polling, no runtime */
  bench_process_s: number
}

export interface ScaleoutDrain {
  deliveries: number
  /** `begin` → every delivery made and logged: each partition's checkpoint at its last row, no retry pending */
  seconds: number
  deliveries_per_s: number
  /** `begin` → every partition held by one of them and none over its share; null if the drain ended first */
  split_fair_ms: number | null
  /** the deliveries the sink got after the split was fair ÷ the time from then to the end */
  after_split_deliveries_per_s: number | null
  per_instance: InstanceShare[]
  /** deliveries the sink had not yet got when every checkpoint was at its head and no retry was pending (0: none owed behind a checkpoint) */
  short_at_heads: number
  /** CPU µs per delivery: the instances summed, PostgreSQL, the sink (per request), the whole machine */
  per_delivery_us: { runtime: number, postgres: number | null, sink: number | null, machine: number | null }
  wal_bytes_per_delivery: number
  transactions_per_delivery: number
  cpu: ScaleoutCpu
  db_activity: DbActivity
  load_average: { start: number[], end: number[] }
}

export interface DrainWindow {
  name: string
  schema: string
  partitions: number
  instances: Instance[]
  /** deliveries owed by this window */
  deliveries: number
  /** starts the window's work; answers when the clock starts (after a commit the instances see) */
  begin: () => Promise<number>
  /** each partition's last row, when the backlog was written before the window; else read after `begin` */
  heads?: Map<number, Position>
  /** how often the end is looked for (10 ms by default) */
  pollMs?: number
}

export async function measureDrain (ctx: BenchContext, sink: Sink, w: DrainWindow): Promise<ScaleoutDrain> {
  const { schema, partitions, instances, name } = w
  const ids = instances.map((i) => i.id)
  const loadStart = loadAverage()
  const before = await Promise.all(instances.map(async (i) => ({ cpu: await i.cpuSeconds(), ...await i.counts() })))
  const sinkBefore = await sink.stats()
  const cpu = await measureCpu(sink, ctx.postmaster)
  const activity = await measureDbActivity(ctx.pool)
  const wal = await measureWal(ctx.pool)
  if (ctx.profile.cpu) await Promise.all(instances.map(async (i) => { await i.profileStart(`${name.replace(/ /g, '-')}-${i.id}`) }))
  const started = await w.begin()
  // the heads are read once (the backlog committed), then only the checkpoints are polled
  const heads = w.heads ?? await partitionHeads(ctx.pool, ctx.code, schema, partitions)
  const split = { at: null as number | null, delivered: 0, shortAtHeads: 0 }
  const report = setInterval(() => {
    sink.stats().then((s) => ctx.progress(`${name}: ${s.delivered - sinkBefore.delivered}/${w.deliveries} delivered`), () => {})
  }, 2000)
  let done: number
  try {
    done = await waitUntil(async () => {
      if (split.at === null && fair(await partitionHolders(ctx.pool, schema, LISTENER), ids)) {
        split.at = now()
        split.delivered = (await sink.stats()).delivered - sinkBefore.delivered
      }
      // a batch commits an attempt still running after HANDOVER_MS (or one a hand-over left) as a
      // retry, and goes on: the checkpoints reach their heads before such deliveries are made
      if (!atHeads(await partitionCheckpoints(ctx.pool, ctx.code, schema, LISTENER, partitions), heads) || await retriesPending(ctx.pool, schema) !== 0) return false
      // and nothing owed may be left behind a checkpoint: that is noted, and waited for
      const short = w.deliveries - ((await sink.stats()).delivered - sinkBefore.delivered)
      if (short > 0) split.shortAtHeads = Math.max(split.shortAtHeads, short)
      return short <= 0
    }, 'every delivery to be made and logged', ctx.quick ? 120_000 : 600_000, w.pollMs ?? 10)
  } finally {
    clearInterval(report)
  }
  const after = await Promise.all(instances.map(async (i) => ({ cpu: await i.cpuSeconds(), ...await i.counts() })))
  if (ctx.profile.cpu) ctx.progress(`${name}: CPU profiles ${(await Promise.all(instances.map(async (i) => await i.profileStop()))).join(' ')}`)
  const used = await cpu.stop()
  const dbActivity = await activity.stop()
  const walBytes = await wal.stop()
  const loadEnd = loadAverage()
  const sinkAfter = await sink.stats()

  const n = w.deliveries
  const delivered = after.map((a, k) => a.delivered - before[k].delivered)
  const all = delivered.reduce((a, b) => a + b, 0)
  const instanceCpu = after.map((a, k) => a.cpu - before[k].cpu)
  const instancesS = instanceCpu.reduce((a, b) => a + b, 0)
  const seconds = (done - started) / 1000
  const perDelivery = (s: number | null, count = n): number | null => s === null ? null : round(s * 1e6 / count, 1)
  const fairAt = split.at
  const result: ScaleoutDrain = {
    deliveries: n,
    seconds: round(seconds, 3),
    deliveries_per_s: Math.round(n / seconds),
    split_fair_ms: fairAt === null ? null : round(Math.max(0, fairAt - started), 1),
    after_split_deliveries_per_s: fairAt === null || done <= fairAt
      ? null
      : Math.round((sinkAfter.delivered - sinkBefore.delivered - split.delivered) / ((done - fairAt) / 1000)),
    per_instance: instances.map((i, k) => ({
      instance_id: i.id,
      delivered: delivered[k],
      share: all === 0 ? 0 : round(delivered[k] / all, 3),
      events_read: after[k].events_read - before[k].events_read,
      cpu_s: round(instanceCpu[k]),
      rss_peak_mb: after[k].rss_peak_mb,
      per_delivery: perDeliveryCounts(before[k], after[k], delivered[k])
    })),
    short_at_heads: split.shortAtHeads,
    per_delivery_us: {
      runtime: perDelivery(instancesS) ?? 0,
      postgres: perDelivery(used.postgres_s),
      sink: perDelivery(used.sink_process_s, sinkAfter.requests - sinkBefore.requests),
      machine: perDelivery(used.machine_busy_s)
    },
    wal_bytes_per_delivery: Math.round(walBytes / n),
    transactions_per_delivery: round(dbActivity.transactions / n, 4),
    cpu: {
      ...used,
      // the runtime under test is the instances; this process only wrote and polled
      runtime_process_s: round(instancesS),
      bench_process_s: used.runtime_process_s,
      other_s: used.machine_busy_s === null || used.postgres_s === null
        ? null
        : round(Math.max(0, used.machine_busy_s - used.runtime_process_s - (used.sink_process_s ?? 0) - used.postgres_s - instancesS))
    },
    db_activity: dbActivity,
    load_average: { start: loadStart, end: loadEnd }
  }
  ctx.progress(`${name}: ${result.deliveries_per_s} deliveries/s (split fair after ${result.split_fair_ms ?? '–'} ms), ` +
    `shares ${result.per_instance.map((s) => s.share).join(' / ')}, µs per delivery: runtime ${result.per_delivery_us.runtime}, postgres ${result.per_delivery_us.postgres}`)
  return result
}

function perDeliveryCounts (before: InstanceCounts, after: InstanceCounts, delivered: number): InstanceShare['per_delivery'] {
  const per = (a: number, b: number): number => delivered === 0 ? 0 : round((a - b) / delivered, 4)
  return {
    reads: per(after.reads.rows + after.reads.held + after.reads.empty, before.reads.rows + before.reads.held + before.reads.empty),
    empty_reads: per(after.reads.empty, before.reads.empty),
    batches: per(after.batches, before.batches),
    read_syscalls: per(after.syscalls.read, before.syscalls.read),
    write_syscalls: per(after.syscalls.write, before.syscalls.write),
    voluntary_switches: per(after.context_switches.voluntary, before.context_switches.voluntary),
    involuntary_switches: per(after.context_switches.involuntary, before.context_switches.involuntary),
    main_thread_us: per(1e6 * after.thread_cpu_s.main, 1e6 * before.thread_cpu_s.main),
    other_threads_us: per(1e6 * after.thread_cpu_s.others, 1e6 * before.thread_cpu_s.others)
  }
}

export interface IdleCost {
  seconds: number
  /** CPU seconds per second, the instances summed and PostgreSQL: what sharing costs with nothing to deliver */
  runtime_s_per_s: number
  postgres_s_per_s: number | null
  transactions_per_s: number
}

/** The instances with nothing owed, for `seconds`: heartbeats, membership, each partition's polling. */
export async function measureIdle (ctx: BenchContext, instances: Instance[], seconds: number): Promise<IdleCost> {
  const before = await Promise.all(instances.map(async (i) => await i.cpuSeconds()))
  const cpu = await measureCpu(undefined, ctx.postmaster)
  const activity = await measureDbActivity(ctx.pool)
  const started = now()
  await sleep(seconds * 1000)
  const after = await Promise.all(instances.map(async (i) => await i.cpuSeconds()))
  const used = await cpu.stop()
  const dbActivity = await activity.stop()
  const elapsed = (now() - started) / 1000
  const runtime = after.reduce((sum, a, k) => sum + a - before[k], 0)
  return {
    seconds: round(elapsed, 3),
    runtime_s_per_s: round(runtime / elapsed, 4),
    postgres_s_per_s: used.postgres_s === null ? null : round(used.postgres_s / elapsed, 4),
    transactions_per_s: round(dbActivity.transactions / elapsed, 1)
  }
}
