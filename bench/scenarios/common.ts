// What every delivery scenario checks once the runtime has caught up: each delivery arrived
// (count and checksum of event ids), none twice, each was logged, nothing left owed.
import type { FastifyInstance } from 'fastify'
import type { BenchContext, LogSummary } from '../app.js'
import { measureCpu, type CpuReport } from '../cpu.js'
import { measureDbActivity, type DbActivity } from '../db-activity.js'
import { loadAverage } from '../machine.js'
import { startProfile, type ProfileReport } from '../profiler.js'
import { afterFullGc, sampleMemory, type MemoryReport } from '../rss.js'
import { runtimeTimings, type RuntimeTimings } from '../runtime-metrics.js'
import { changeLogChecksum, changeLogHead, dbOutcome, readCheckpoint, samePosition, type DbOutcome } from '../data.js'
import type { Sink } from '../sink-client.js'
import type { SinkStats } from '../sink-protocol.js'

export interface Correctness {
  ok: boolean
  problems: string[]
  expected_deliveries: number
  delivered: number
  duplicates: number
  duplicate_requests: number
  sink_requests: number
  answered_500: number
  attempts_to_succeed: Record<string, number>
  db: DbOutcome
  checkpoint_at_head: boolean
  checksum_ok: boolean
}

/** `perEvent` deliveries are owed per change-log row (one per matching observer). */
/** What every delivery scenario reports about its measured window, besides its own figures. */
export interface WindowReport {
  memory: MemoryReport
  load_average: { start: number[], end: number[] }
  correctness: Correctness
  cpu: CpuReport
  /** pg_stat_database over the window (every client: the runtime, the bench's own polling and writer) */
  db_activity: DbActivity
  /** the runtime's own histograms (prom-client) */
  runtime_timings: RuntimeTimings
  runtime_log: LogSummary
  /** with --cpu-prof */
  profile?: ProfileReport
}

/**
 * Starts measuring a window (memory, CPU of every process, database activity, load, the profile
 * when asked for); `stop` ends it and reads the runtime's own timings.
 */
export async function startWindow (ctx: BenchContext, sink: Sink, name: string): Promise<{ stop: (app: FastifyInstance) => Promise<Omit<WindowReport, 'correctness' | 'runtime_log'>> }> {
  const loadStart = loadAverage()
  const memory = sampleMemory()
  const cpu = await measureCpu(sink, ctx.postmaster)
  const activity = await measureDbActivity(ctx.pool)
  const profiling = await startProfile(ctx.profile, name, ctx.progress)
  return {
    stop: async (app) => {
      const mem = memory.stop()
      const cpuUsed = await cpu.stop()
      const dbActivity = await activity.stop()
      const profile = await profiling.stop()
      return {
        memory: afterFullGc(mem),
        load_average: { start: loadStart, end: loadAverage() },
        cpu: cpuUsed,
        db_activity: dbActivity,
        runtime_timings: await runtimeTimings(app),
        ...(profile === undefined ? {} : { profile })
      }
    }
  }
}

export interface CheckScope {
  /** retries that stay pending by design (a key held behind an endpoint that never recovers) */
  retriesOwed?: number
  /** only these observers' logs, retries and dead letters count (the others send to another endpoint) */
  observers?: readonly string[]
  /** the caller's own check of the checkpoints (a partitioned listener has one per partition) */
  atHead?: boolean
}

export async function checkDeliveries (ctx: BenchContext, sink: Sink, schema: string, perEvent: number, expected: number, { retriesOwed = 0, observers, atHead: checked }: CheckScope = {}): Promise<{ correctness: Correctness, sink: SinkStats }> {
  const stats = await sink.stats()
  const db = await dbOutcome(ctx.pool, schema, observers)
  const atHead = checked ?? samePosition(await readCheckpoint(ctx.pool, schema), await changeLogHead(ctx.pool, schema))
  // the checksum covers every event only when every delivery was made
  const checksumOk = retriesOwed > 0 || stats.checksum === perEvent * await changeLogChecksum(ctx.pool, schema)
  const problems: string[] = []
  if (stats.delivered !== expected) problems.push(`sink got ${stats.delivered} of ${expected} deliveries`)
  if (!checksumOk) problems.push('the event ids delivered are not the change log\'s')
  if (stats.duplicates > 0) problems.push(`${stats.duplicates} deliveries arrived more than once (at-least-once allows it; counted)`)
  if (db.logs_success !== expected) problems.push(`${db.logs_success} success log rows for ${expected} deliveries`)
  if (db.dead_letters > 0) problems.push(`${db.dead_letters} dead letters`)
  if (db.retries_pending !== retriesOwed) problems.push(`${db.retries_pending} retries pending (${retriesOwed} expected)`)
  if (!atHead) problems.push('checkpoint is not at the head of the change log')
  if (stats.unparsable > 0) problems.push(`${stats.unparsable} bodies were not event envelopes`)
  return {
    sink: stats,
    correctness: {
      // a duplicate is allowed by the contract (at least once), so it is reported, not a failure
      ok: problems.filter((p) => !p.includes('more than once')).length === 0,
      problems,
      expected_deliveries: expected,
      delivered: stats.delivered,
      duplicates: stats.duplicates,
      duplicate_requests: stats.duplicateRequests,
      sink_requests: stats.requests,
      answered_500: stats.answered500,
      attempts_to_succeed: stats.attemptsToSucceed,
      db,
      checkpoint_at_head: atHead,
      checksum_ok: checksumOk
    }
  }
}

/** What to say when a scenario timed out waiting: where the sink, the checkpoint and the runtime are. */
export async function describeStall (ctx: BenchContext, sink: Sink, app: FastifyInstance, schema: string): Promise<string> {
  const parts: string[] = []
  try {
    const stats = await sink.stats()
    parts.push(`sink: ${stats.delivered} delivered, ${stats.requests} requests`)
    parts.push(`checkpoint ${JSON.stringify(await readCheckpoint(ctx.pool, schema))}, head ${JSON.stringify(await changeLogHead(ctx.pool, schema))}`)
    const health = await app.observers.health()
    parts.push(`health ${JSON.stringify(health)}`)
  } catch (err) {
    parts.push(`(diagnosis failed: ${err instanceof Error ? err.message : String(err)})`)
  }
  return parts.join('; ')
}

/** Runs `wait`; on failure, adds describeStall's diagnosis to the error. */
export async function diagnosed<T> (ctx: BenchContext, sink: Sink, app: FastifyInstance, schema: string, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait()
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)} (${await describeStall(ctx, sink, app, schema)})`)
  }
}
