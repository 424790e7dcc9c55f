// The one path of an event: change log -> match -> actions -> attempt log, retries, dead letters
// and checkpoint, committed together per batch.
import { commitBatch } from '../db/delivery.repo.js'
import { recordCheckpointError } from '../db/checkpoint.repo.js'
import type { ObserverEvent } from '../model.js'
import { recordError, runDeliveries, type RuntimeContext } from './context.js'
import { deliveriesFor, type Delivery } from './delivery.js'
import { toEvent } from './event.js'
import { toProgress } from './outcomes.js'
import { ChangeLogReader, type Batch } from './reader.js'

export interface BatchResult {
  events: number
  deliveries: number
  retriesScheduled: number
  /** false when the checkpoint had moved under us and the batch was discarded */
  committed: boolean
}

/** Matches a batch's events, bounded by `channelCapacity` deliveries (the batch is cut short to fit). */
export function planBatch (ctx: RuntimeContext, batch: Batch): { batch: Batch, deliveries: Delivery[] } {
  const capacity = ctx.options.runtime.channelCapacity
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
    if (deliveries.length > capacity && i > 0) {
      deliveries.length = before
      return { batch: ChangeLogReader.truncate(batch, i), deliveries }
    }
  }
  return { batch, deliveries }
}

export async function processBatch (ctx: RuntimeContext, reader: ChangeLogReader, read: Batch): Promise<BatchResult> {
  const started = performance.now()
  const { batch, deliveries } = planBatch(ctx, read)
  const results = await runDeliveries(ctx, deliveries)
  const progress = toProgress(results)
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
    await reader.load()
    return { events: 0, deliveries: deliveries.length, retriesScheduled: 0, committed: false }
  }
  reader.committed(batch)
  ctx.stats.eventsProcessed += batch.rows.length
  ctx.metrics.eventsRead.inc(batch.rows.length)
  ctx.metrics.batchDuration.observe((performance.now() - started) / 1000)
  return { events: batch.rows.length, deliveries: deliveries.length, retriesScheduled: progress.retries.length, committed: true }
}

export async function recordLoopError (ctx: RuntimeContext, err: unknown): Promise<void> {
  const listenerId = ctx.options.runtime.listenerId
  recordError(ctx, err, { listener_id: listenerId }, 'reading the change log failed; retrying')
  await recordCheckpointError(ctx.db, listenerId, err instanceof Error ? err.message : String(err)).catch(() => {})
}
