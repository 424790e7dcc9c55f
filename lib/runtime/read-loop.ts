// The one path of an event: change log -> match -> actions -> attempt log, retries, dead letters
// and checkpoint, committed together per batch.
//
// Batches overlap: while one batch's deliveries run, the next is read and started, up to
// `channelCapacity` deliveries in flight. Commits stay strictly in read order (batches delivered
// while a commit is in flight are committed together next), each conditional on the checkpoint
// the previous one wrote, so a failed commit fails every later one and the reader goes back to
// the stored checkpoint: at-least-once, never a skipped row.
import { commitBatch, type BatchProgress } from '../db/delivery.repo.js'
import { recordCheckpointError } from '../db/checkpoint.repo.js'
import type { ObserverEvent } from '../model.js'
import { recordError, runDeliveries, warnDeadLetters, type RuntimeContext } from './context.js'
import { deliveriesFor, type Delivery } from './delivery.js'
import { toEvent } from './event.js'
import { toProgress } from './outcomes.js'
import { ChangeLogReader, type Batch } from './reader.js'

/** Matches a batch's events, bounded by `room` deliveries (the batch is cut short to fit, keeping at least one event). */
export function planBatch (ctx: RuntimeContext, batch: Batch, room: number): { batch: Batch, deliveries: Delivery[] } {
  const deliveries: Delivery[] = []
  const rows = batch.rows
  for (let i = 0; i < rows.length; i++) {
    let event: ObserverEvent
    try {
      event = toEvent(rows[i])
    } catch (err) {
      // refused, logged, counted; the reader moves on (there is nothing an observer could do with it)
      recordError(ctx, err, { change_log_id: String(rows[i].pk_entity_change_log), modification_type: rows[i].modification_type }, 'change-log row refused')
      continue
    }
    const before = deliveries.length
    deliveriesFor(event, ctx.matcher.match(event), deliveries)
    if (deliveries.length > room && i > 0) {
      deliveries.length = before
      return { batch: ChangeLogReader.truncate(batch, i), deliveries }
    }
  }
  return { batch, deliveries }
}

interface Pending {
  batch: Batch
  /** when its deliveries started (for the batch duration metric) */
  started: number
  /** what its attempts owe the database; set once every delivery of the batch has finished */
  progress?: BatchProgress
  /** set instead of `progress` when working it out threw */
  failure?: Error
  /** true once committed; false when discarded (an earlier commit failed or the checkpoint moved) */
  done: Promise<boolean>
  settle: (committed: boolean | Error) => void
}

export class ReadPipeline {
  private readonly pending: Pending[] = []
  /** batches delivered or delivering and not committed yet, in read order */
  private readonly uncommitted: Pending[] = []
  private committing = false
  /** a commit failed or was refused: every later batch is discarded until the pipeline is settled */
  private broken = false
  private deliveriesInFlight = 0
  private rowsInFlight = 0
  private failed = false

  constructor (
    private readonly ctx: RuntimeContext,
    private readonly reader: ChangeLogReader,
    /** told when a committed batch scheduled retries (the retry worker recomputes its sleep) */
    private readonly onRetriesScheduled: () => void = () => {}
  ) {}

  get rows (): number { return this.rowsInFlight }
  get batches (): number { return this.pending.length }

  /**
   * Room for more deliveries (`channelCapacity` bounds them), and no more batches read ahead than
   * the actions can use: enough to keep `concurrency` slots busy while a batch is read and the
   * previous one commits. Reading further ahead only made events wait longer in memory: with the
   * defaults, 10 batches instead of 3 held every event ~125 ms instead of ~45 ms, long enough to
   * reach V8's old generation, and the backlog's peak RSS was ~240 MB instead of ~175 MB for the
   * same rate (bench/README.md).
   */
  hasRoom (): boolean {
    const { channelCapacity, batchSize, concurrency } = this.ctx.options.runtime
    const batches = Math.min(Math.ceil(channelCapacity / batchSize) + 1, Math.ceil(concurrency / batchSize) + 2)
    return this.deliveriesInFlight < channelCapacity && this.pending.length < Math.max(2, batches)
  }

  /**
   * Rows read above the horizon are only known to the ledger once committed, so a batch of them
   * is never overlapped with another read; nor is anything read after a failure until all settled.
   */
  mustSettle (): boolean {
    return this.failed || this.pending.some((p) => p.batch.ahead.length > 0)
  }

  /** Starts delivering a batch; it commits after every batch read before it. */
  submit (read: Batch): void {
    const { channelCapacity } = this.ctx.options.runtime
    const { batch, deliveries } = planBatch(this.ctx, read, channelCapacity - this.deliveriesInFlight)
    this.reader.advance(batch)
    this.deliveriesInFlight += deliveries.length
    this.rowsInFlight += batch.rows.length
    let settle: Pending['settle'] = () => {}
    const done = new Promise<boolean>((resolve, reject) => {
      settle = (committed) => {
        this.rowsInFlight -= batch.rows.length
        if (committed instanceof Error) reject(committed)
        else resolve(committed)
      }
    })
    // the read loop looks at it when it gets there; until then a failure must not count as unhandled
    done.catch(() => {})
    const entry: Pending = { batch, started: performance.now(), done, settle }
    this.pending.push(entry)
    this.uncommitted.push(entry)
    runDeliveries(this.ctx, deliveries).then((results) => {
      entry.progress = toProgress(results)
    }).catch((err: Error) => {
      // a bug, not an outcome: the batch is not committed and the reader goes back to the checkpoint
      entry.failure = err
    }).finally(() => {
      this.deliveriesInFlight -= deliveries.length
      this.commitReady()
    })
  }

  /**
   * Group commit: every delivered batch at the head of the queue goes into one transaction (one
   * checkpoint move, one log insert). While a commit is in flight the next batches finish and
   * queue up, so the slower the commits, the more each one carries.
   */
  private commitReady (): void {
    if (this.committing) return
    const group: Pending[] = []
    for (let head = this.uncommitted[0]; head !== undefined; head = this.uncommitted[0]) {
      if (head.failure !== undefined && group.length === 0) {
        this.uncommitted.shift()
        head.settle(this.broken ? false : head.failure)
        this.broken = true
        continue
      }
      if (head.progress === undefined || head.failure !== undefined) break
      group.push(this.uncommitted.shift() as Pending)
    }
    if (group.length === 0) return
    if (this.broken) {
      for (const entry of group) entry.settle(false)
      return
    }
    this.committing = true
    this.commit(group).then((committed) => {
      if (!committed) this.broken = true
      for (const entry of group) entry.settle(committed)
    }, (err: Error) => {
      this.broken = true
      // the first batch reports the error; the others are discarded with it
      group[0].settle(err)
      for (const entry of group.slice(1)) entry.settle(false)
    }).finally(() => {
      this.committing = false
      this.commitReady()
    })
  }

  private async commit (group: Pending[]): Promise<boolean> {
    const { ctx } = this
    const first = group[0].batch
    const last = group[group.length - 1].batch
    const progress = group.length === 1 ? group[0].progress as BatchProgress : merge(group)
    const committed = await commitBatch(ctx.db, ctx.schema, {
      ...progress,
      listenerId: ctx.options.runtime.listenerId,
      from: first.from,
      to: last.to,
      processed: group.reduce((n, p) => n + p.batch.rows.length, 0),
      ahead: group.length === 1 ? first.ahead : group.flatMap((p) => p.batch.ahead),
      clearAhead: group.some((p) => p.batch.clearAhead)
    })
    if (!committed) {
      ctx.log.warn({ listener_id: ctx.options.runtime.listenerId, from: first.from }, 'checkpoint moved by another reader or a replay; batch discarded, re-reading')
      return false
    }
    const now = performance.now()
    for (const { batch, started } of group) {
      ctx.stats.eventsProcessed += batch.rows.length
      ctx.metrics.eventsRead.inc(batch.rows.length)
      ctx.metrics.batchDuration.observe((now - started) / 1000)
    }
    if (progress.retries.length > 0) this.onRetriesScheduled()
    warnDeadLetters(ctx, progress.deadLetters)
    return true
  }

  /** Waits for the oldest batch; on a failure, waits for all and returns the reader to the stored checkpoint. */
  async settleOldest (): Promise<void> {
    const oldest = this.pending[0]
    if (oldest === undefined) return
    let ok = false
    try {
      ok = await oldest.done
    } catch (err) {
      await recordLoopError(this.ctx, err)
    } finally {
      this.pending.shift()
    }
    if (!ok) {
      this.failed = true
      await this.settleAll()
      this.failed = false
      await this.reader.load()
    }
  }

  async settleAll (): Promise<void> {
    while (this.pending.length > 0) {
      const next = this.pending.shift() as Pending
      await next.done.catch(async (err) => { await recordLoopError(this.ctx, err) })
    }
    // nothing in flight: the next batch commits on its own merit (after reader.load())
    this.broken = false
  }
}

function merge (group: Pending[]): BatchProgress {
  const all = group.map((p) => p.progress as BatchProgress)
  return { logs: all.flatMap((p) => p.logs), retries: all.flatMap((p) => p.retries), deadLetters: all.flatMap((p) => p.deadLetters) }
}

export async function recordLoopError (ctx: RuntimeContext, err: unknown): Promise<void> {
  const listenerId = ctx.options.runtime.listenerId
  recordError(ctx, err, { listener_id: listenerId }, 'reading the change log failed; retrying')
  // the database is often what failed: recording the error there may fail too
  await recordCheckpointError(ctx.db, listenerId, err instanceof Error ? err.message : String(err))
    .catch((cause) => ctx.log.debug({ err: cause, listener_id: listenerId }, 'could not record the error on the checkpoint'))
}
