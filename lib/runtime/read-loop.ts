// The one path of an event: change log -> match -> actions -> attempt log, retries, dead letters
// and checkpoint, committed together per batch.
//
// Batches overlap: while one batch's deliveries run, the next is read and started, up to
// `channelCapacity` deliveries in flight. Commits stay strictly in read order, each conditional
// on the checkpoint the previous one wrote, so a failed commit fails every later one and the
// reader goes back to the stored checkpoint: at-least-once, never a skipped row.
import { commitBatch } from '../db/delivery.repo.js'
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
  /** true once committed; false when discarded (an earlier commit failed or the checkpoint moved) */
  done: Promise<boolean>
}

export class ReadPipeline {
  private readonly pending: Pending[] = []
  private chain: Promise<boolean> = Promise.resolve(true)
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

  /** Starts delivering a batch; its commit will follow the previous batch's. */
  submit (read: Batch): void {
    const { channelCapacity } = this.ctx.options.runtime
    const { batch, deliveries } = planBatch(this.ctx, read, channelCapacity - this.deliveriesInFlight)
    this.reader.advance(batch)
    this.deliveriesInFlight += deliveries.length
    this.rowsInFlight += batch.rows.length
    const started = performance.now()
    const delivered = runDeliveries(this.ctx, deliveries)
    const previous = this.chain
    const done = (async (): Promise<boolean> => {
      const results = await delivered
      this.deliveriesInFlight -= deliveries.length
      try {
        if (!await previous) return false
        return await this.commit(batch, toProgress(results), started)
      } finally {
        this.rowsInFlight -= batch.rows.length
      }
    })()
    this.chain = done.catch(() => false)
    this.pending.push({ batch, done })
  }

  private async commit (batch: Batch, progress: ReturnType<typeof toProgress>, started: number): Promise<boolean> {
    const { ctx } = this
    const committed = await commitBatch(ctx.db, ctx.schema, {
      ...progress,
      listenerId: ctx.options.runtime.listenerId,
      from: batch.from,
      to: batch.to,
      processed: batch.rows.length,
      ahead: batch.ahead,
      clearAhead: batch.clearAhead
    })
    if (!committed) {
      ctx.log.warn({ listener_id: ctx.options.runtime.listenerId, from: batch.from }, 'checkpoint moved by another reader or a replay; batch discarded, re-reading')
      return false
    }
    ctx.stats.eventsProcessed += batch.rows.length
    ctx.metrics.eventsRead.inc(batch.rows.length)
    ctx.metrics.batchDuration.observe((performance.now() - started) / 1000)
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
    this.chain = Promise.resolve(true)
  }
}

export async function recordLoopError (ctx: RuntimeContext, err: unknown): Promise<void> {
  const listenerId = ctx.options.runtime.listenerId
  recordError(ctx, err, { listener_id: listenerId }, 'reading the change log failed; retrying')
  // the database is often what failed: recording the error there may fail too
  await recordCheckpointError(ctx.db, listenerId, err instanceof Error ? err.message : String(err))
    .catch((cause) => ctx.log.debug({ err: cause, listener_id: listenerId }, 'could not record the error on the checkpoint'))
}
