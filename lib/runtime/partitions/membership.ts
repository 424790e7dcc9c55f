// Partitions shared among the instances through PostgreSQL alone. Every second each instance
// beats its heart (tb_observer_instance), reads who is alive and who holds what, and moves towards
// its fair share (assignment.ts): it hands over what it must give up (drain within handoffDrainMs,
// commit, release) and starts a read loop for each partition it takes. A loop takes the partition's
// advisory lock as the lease, then records a new term. A holder silent for partitionLeaseMs is gone:
// its partitions are free, and the session that still holds one's lock (a paused process) is ended,
// so whatever it commits after it wakes is refused.
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  endStaleSession, ensurePartitionIndex, heartbeat, instanceGone, liveInstances, partitionLags, partitionReleased, partitionRows,
  partitionStreamId, partitionTaken
} from '../../db/partitions.repo.js'
import { recordError, type RuntimeContext } from '../context.js'
import type { ChangeLogReader } from '../read-path/reading.js'
import type { Stream } from '../read-path/read-loop.js'
import { assign } from './assignment.js'

/** How often an instance beats its heart and looks at its share. */
export const MEMBERSHIP_TICK_MS = 1000

/** A partition's read loop and what serves it (the runtime's StreamRunner). */
export interface PartitionStream {
  readonly loop: { readonly reading: boolean, readonly reader: ChangeLogReader, readonly pipeline: { readonly rows: number } }
  run: (signal: AbortSignal) => Promise<void>
  wake: () => void
  close: () => Promise<void>
}

interface Running { stream: PartitionStream, abort: AbortController, done: Promise<void>, releasing: boolean }

export class Membership {
  readonly instanceId: string
  private readonly running = new Map<number, Running>()
  /** hand-overs under way (awaited at stop) */
  private readonly handingOver = new Set<Promise<void>>()

  constructor (private readonly ctx: RuntimeContext, private readonly open: (stream: Stream) => PartitionStream) {
    this.instanceId = ctx.options.runtime.instanceId ?? `${hostname()}:${process.pid}`
  }

  get count (): number { return this.ctx.options.runtime.partitions }

  /** partitions whose lease this instance holds */
  held (): number[] {
    return [...this.running].filter(([, r]) => r.stream.loop.reading && !r.releasing).map(([p]) => p).sort((a, b) => a - b)
  }

  streams (): PartitionStream[] { return [...this.running.values()].map((r) => r.stream) }

  /** The partition gauges, at scrape time: which partitions this instance holds, and their lag. */
  async refreshMetrics (): Promise<void> {
    const { ctx } = this
    const rt = ctx.options.runtime
    const held = this.held()
    const lags = await partitionLags(ctx.db, ctx.schema, rt.listenerId, this.count, held)
    ctx.metrics.partitionLag.reset()
    for (let p = 0; p < this.count; p++) {
      ctx.metrics.partitionHeld.set({ partition: String(p) }, held.includes(p) ? 1 : 0)
      const lag = lags.get(p)
      if (lag !== undefined) ctx.metrics.partitionLag.set({ partition: String(p) }, lag)
    }
  }

  /** Until `signal` aborts; then every partition is handed over and this instance leaves. */
  async run (signal: AbortSignal): Promise<void> {
    const { ctx } = this
    // CREATE INDEX CONCURRENTLY waits for every older transaction in the database: reading goes on
    // meanwhile, along the commit-order index (slower, as correct)
    const indexing = ensurePartitionIndex(ctx.db, ctx.schema, this.count)
      .catch((err) => { recordError(ctx, err, { partitions: this.count }, 'building the partitions\' index failed; reading without it') })
    while (!signal.aborted) {
      try {
        await this.tick()
      } catch (err) {
        recordError(ctx, err, { instance_id: this.instanceId }, 'partition membership failed; retrying')
      }
      await sleep(MEMBERSHIP_TICK_MS, undefined, { signal, ref: false }).catch(() => {})
    }
    await Promise.all([...this.running.keys()].map(async (p) => { await this.handOver(p) }))
    await Promise.all(this.handingOver)
    // a build still waiting for an old transaction does not hold the stop up for long
    const timer = new AbortController()
    await Promise.race([indexing, sleep(ctx.options.runtime.handoffDrainMs, undefined, { signal: timer.signal, ref: false }).catch(() => {})])
    timer.abort()
    await instanceGone(ctx.db, this.instanceId).catch((err) => { recordError(ctx, err, { instance_id: this.instanceId }, 'leaving the instances failed') })
  }

  private async tick (): Promise<void> {
    const { ctx } = this
    const rt = ctx.options.runtime
    await heartbeat(ctx.db, { instance_id: this.instanceId, host: hostname(), pid: process.pid })
    const [live, rows] = await Promise.all([liveInstances(ctx.db, rt.partitionLeaseMs), partitionRows(ctx.db, rt.listenerId)])
    const holding = new Set<number>()
    const trying = new Set<number>()
    for (const [p, r] of this.running) {
      if (r.releasing) continue
      if (r.stream.loop.reading) holding.add(p)
      else trying.add(p)
    }
    const plan = assign({ count: this.count, me: this.instanceId, live, rows, holding, trying })
    for (const p of [...plan.release, ...plan.stop]) {
      const handing = this.handOver(p).finally(() => { this.handingOver.delete(handing) })
      this.handingOver.add(handing)
    }
    for (const { partition, pid } of plan.endSessions) {
      if (await endStaleSession(ctx.db, ctx.schema, partitionStreamId(rt.listenerId, partition), pid)) {
        ctx.log.warn({ partition, pid, listener_id: rt.listenerId }, 'ended the session of a silent partition holder')
      }
    }
    for (const p of plan.take) this.start(p)
  }

  private start (partition: number): void {
    const { ctx } = this
    const rt = ctx.options.runtime
    const stream = this.open({
      id: partitionStreamId(rt.listenerId, partition),
      slice: { index: partition, count: this.count },
      onLeaseTaken: async (pid) => {
        const term = await partitionTaken(ctx.db, rt.listenerId, partition, this.instanceId, pid)
        ctx.log.info({ partition, term, listener_id: rt.listenerId, instance_id: this.instanceId }, 'partition taken')
      }
    })
    const abort = new AbortController()
    const done = stream.run(abort.signal).catch((err) => { recordError(ctx, err, { partition }, 'partition stream failed') })
    this.running.set(partition, { stream, abort, done, releasing: false })
  }

  /** Stops reading the partition, lets what is in flight drain and commit (up to handoffDrainMs), then releases it. */
  private async handOver (partition: number): Promise<void> {
    const entry = this.running.get(partition)
    if (entry === undefined || entry.releasing) return
    const { ctx } = this
    const rt = ctx.options.runtime
    entry.releasing = true
    const held = entry.stream.loop.reading
    entry.abort.abort()
    entry.stream.wake()
    const timer = new AbortController()
    await Promise.race([entry.done, sleep(rt.handoffDrainMs, undefined, { signal: timer.signal, ref: false }).catch(() => {})])
    timer.abort()
    // past the drain: closing the session ends the lease, and what commits later is refused
    await entry.stream.close()
    await partitionReleased(ctx.db, rt.listenerId, partition, this.instanceId)
    this.running.delete(partition)
    if (held) ctx.log.info({ partition, listener_id: rt.listenerId, instance_id: this.instanceId }, 'partition handed over')
  }
}
