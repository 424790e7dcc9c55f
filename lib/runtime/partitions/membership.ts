// Partitions shared among the instances through PostgreSQL alone. Every second each instance
// beats its heart (tb_observer_instance), reads who is alive and who holds what, and moves towards
// its fair share (assignment.ts): it hands over what it must give up (drain within handoffDrainMs,
// commit, release) and starts a read loop for each partition it takes. A loop takes the partition's
// advisory lock as the lease, then records a new term. A holder silent for partitionLeaseMs is gone:
// its partitions are free, and the session that still holds one's lock (a paused process) is ended,
// so whatever it commits after it wakes is refused. While a re-split is under way, a partition
// that reached the barrier is handed over and not taken again; once all have, any instance
// switches the count, and each one hands over what it still runs and takes its share of the new.
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  endStaleSession, ensurePartitionIndex, heartbeat, instanceGone, liveInstances, partitionLags, partitionReleased, partitionRows,
  partitionStreamId, partitionTaken, recordedPartitions
} from '../../db/partitions.repo.js'
import { listenerState, switchPartitions } from '../../db/resplit.repo.js'
import { recordError, type RuntimeContext } from '../context.js'
import type { Stream } from '../read-path/read-loop.js'
import { assign } from './assignment.js'
import { PartitionPoller, type PolledLoop } from './poller.js'

/** How often an instance beats its heart and looks at its share. */
export const MEMBERSHIP_TICK_MS = 1000
/**
 * How long a starting instance is seen alive before it takes a partition: instances started
 * together (a deploy) then see one another and split once, rather than the first taking every
 * partition and draining most of them over to the others a tick later (Kafka's initial delay).
 */
export const JOIN_WINDOW_MS = 500

/** A partition's read loop and what serves it (the runtime's StreamRunner). */
export interface PartitionStream {
  readonly loop: PolledLoop & { readonly pipeline: { readonly rows: number } }
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
  /** the partition index of each count read with or re-split to, built in the background */
  private readonly indexes = new Map<number, Promise<void>>()
  /** the count the listener runs with (recorded; a re-split changes it while this instance runs) */
  count: number
  /** wakes the partitions' loops where rows wait, for NOTIFYs and the poll */
  private readonly poller: PartitionPoller

  constructor (private readonly ctx: RuntimeContext, private readonly open: (stream: Stream) => PartitionStream) {
    this.instanceId = ctx.options.runtime.instanceId ?? `${hostname()}:${process.pid}`
    this.count = ctx.options.runtime.partitions
    this.poller = new PartitionPoller(ctx, () => [...this.running.values()].filter((r) => !r.releasing).map((r) => r.stream.loop))
  }

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
    ctx.metrics.partitionHeld.reset()
    for (let p = 0; p < this.count; p++) {
      ctx.metrics.partitionHeld.set({ partition: String(p) }, held.includes(p) ? 1 : 0)
      const lag = lags.get(p)
      if (lag !== undefined) ctx.metrics.partitionLag.set({ partition: String(p) }, lag)
    }
  }

  /** Until `signal` aborts; then every partition is handed over and this instance leaves. */
  async run (signal: AbortSignal): Promise<void> {
    const { ctx } = this
    // a tick corrects the count anyway (a stream of another count is refused its partition)
    this.count = await recordedPartitions(ctx.db, ctx.options.runtime.listenerId).catch(() => undefined) ?? this.count
    this.buildIndex(this.count)
    await heartbeat(ctx.db, { instance_id: this.instanceId, host: hostname(), pid: process.pid })
      .catch((err) => { recordError(ctx, err, { instance_id: this.instanceId }, 'partition membership failed; retrying') })
    await sleep(JOIN_WINDOW_MS, undefined, { signal, ref: false }).catch(() => {})
    const polling = this.poller.run(signal)
    while (!signal.aborted) {
      try {
        await this.tick()
      } catch (err) {
        recordError(ctx, err, { instance_id: this.instanceId }, 'partition membership failed; retrying')
      }
      await sleep(MEMBERSHIP_TICK_MS, undefined, { signal, ref: false }).catch(() => {})
    }
    await polling
    await Promise.all([...this.running.keys()].map(async (p) => { await this.handOver(p) }))
    await Promise.all(this.handingOver)
    // a build still waiting for an old transaction does not hold the stop up for long
    const timer = new AbortController()
    await Promise.race([Promise.all(this.indexes.values()), sleep(ctx.options.runtime.handoffDrainMs, undefined, { signal: timer.signal, ref: false }).catch(() => {})])
    timer.abort()
    await instanceGone(ctx.db, this.instanceId).catch((err) => { recordError(ctx, err, { instance_id: this.instanceId }, 'leaving the instances failed') })
  }

  /**
   * CREATE INDEX CONCURRENTLY waits for every older transaction in the database: reading goes on
   * meanwhile, along the commit-order index (slower, as correct).
   */
  private buildIndex (count: number): void {
    const { ctx } = this
    if (this.indexes.has(count)) return
    this.indexes.set(count, ensurePartitionIndex(ctx.db, ctx.schema, count)
      .catch((err) => { recordError(ctx, err, { partitions: count }, 'building the partitions\' index failed; reading without it') }))
  }

  private async tick (): Promise<void> {
    const { ctx } = this
    const rt = ctx.options.runtime
    await heartbeat(ctx.db, { instance_id: this.instanceId, host: hostname(), pid: process.pid })
    const [live, allRows, listener] = await Promise.all([
      liveInstances(ctx.db, rt.partitionLeaseMs), partitionRows(ctx.db, rt.listenerId), listenerState(ctx.db, ctx.schema, rt.listenerId)
    ])
    if (listener !== undefined && listener.partitions !== this.count) {
      // re-split: no partition of the new count starts here before every one of the old is handed over
      for (const p of this.running.keys()) this.handOverLater(p)
      if (this.running.size > 0) return
      ctx.log.info({ listener_id: rt.listenerId, from: this.count, to: listener.partitions, instance_id: this.instanceId }, 'partitions re-split: reading with the new count')
      this.count = listener.partitions
      this.buildIndex(this.count)
      return
    }
    let rows = allRows
    const resplit = listener?.resplit
    if (resplit != null) {
      this.buildIndex(resplit.partitions)
      // a partition at the barrier has nothing left to read: let it go, and leave it free for the switch
      const done = new Set(resplit.at_barrier)
      for (const p of this.running.keys()) if (done.has(p)) this.handOverLater(p)
      rows = allRows.filter((r) => !done.has(r.partition))
      // a silent holder (a paused process) keeps its lock, which the switch needs
      const silent = allRows.filter((r) => done.has(r.partition) && r.holder !== null && r.holder !== this.instanceId && !live.includes(r.holder))
      await this.endSessions(silent.map((r) => ({ partition: r.partition, pid: r.session_pid })))
      if (done.size === this.count) {
        const result = await switchPartitions(ctx.db, ctx.schema, rt.listenerId)
        if (result.switched) ctx.log.info({ listener_id: rt.listenerId, from: result.from, to: result.to }, 'partitions re-split')
        return
      }
    }
    const holding = new Set<number>()
    const trying = new Set<number>()
    for (const [p, r] of this.running) {
      if (r.releasing) continue
      if (r.stream.loop.reading) holding.add(p)
      else trying.add(p)
    }
    const plan = assign({ count: this.count, me: this.instanceId, live, rows, holding, trying })
    for (const p of [...plan.release, ...plan.stop]) this.handOverLater(p)
    await this.endSessions(plan.endSessions)
    for (const p of plan.take) this.start(p)
  }

  private async endSessions (sessions: ReadonlyArray<{ partition: number, pid: number | null }>): Promise<void> {
    const { ctx } = this
    const rt = ctx.options.runtime
    for (const { partition, pid } of sessions) {
      if (pid !== null && await endStaleSession(ctx.db, ctx.schema, partitionStreamId(rt.listenerId, partition), pid)) {
        ctx.log.warn({ partition, pid, listener_id: rt.listenerId }, 'ended the session of a silent partition holder')
      }
    }
  }

  private start (partition: number): void {
    const { ctx, count } = this
    const rt = ctx.options.runtime
    const stream = this.open({
      id: partitionStreamId(rt.listenerId, partition),
      slice: { index: partition, count, listener: rt.listenerId },
      poller: this.poller,
      onLeaseTaken: async (pid) => {
        // taken under the lock: a switch of the count, which needs that lock, came before or comes after this stream ends
        const term = await partitionTaken(ctx.db, rt.listenerId, partition, count, this.instanceId, pid)
        if (term === undefined) return false
        ctx.log.info({ partition, term, listener_id: rt.listenerId, instance_id: this.instanceId }, 'partition taken')
        return true
      }
    })
    const abort = new AbortController()
    const done = stream.run(abort.signal).catch((err) => { recordError(ctx, err, { partition }, 'partition stream failed') })
    this.running.set(partition, { stream, abort, done, releasing: false })
  }

  private handOverLater (partition: number): void {
    const handing = this.handOver(partition).finally(() => { this.handingOver.delete(handing) })
    this.handingOver.add(handing)
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
