// Group commit: the settled batches at the head of a stream's pipeline, in read order, written in
// one transaction with the checkpoint move, conditional on the checkpoint the first one read from
// and on the stream's lease (pipeline.ts decides which batches and what a refusal means).
import { commitSettlement, type CheckpointMove } from '../../db/settlement.repo.js'
import type { LeaseFence } from '../../db/stored.repo.js'
import type { Settlement } from '../../model.js'
import { warnDeadLetters, type RuntimeContext } from '../context.js'
import { firstDue, mergeSettlements } from '../delivery/settling.js'
import type { Batch } from './reading.js'

export interface SettledBatch {
  batch: Batch
  /** when its deliveries started (for the batch duration metric) */
  started: number
  settlement: Settlement
}

/** Commits the group; false when the checkpoint moved or the lease passed (nothing written). */
export async function commitGroup (ctx: RuntimeContext, lease: LeaseFence, group: readonly SettledBatch[], onRetriesScheduled: (dueAt: number) => void): Promise<boolean> {
  const { key: listenerId, pid: leasePid } = lease
  const first = group[0].batch
  const settlement = group.length === 1 ? group[0].settlement : mergeSettlements(group.map((p) => p.settlement))
  const checkpoint: CheckpointMove = {
    listenerId,
    from: first.from,
    to: group[group.length - 1].batch.to,
    processed: group.reduce((n, p) => n + p.batch.rows.length, 0),
    ahead: group.length === 1 ? first.ahead : group.flatMap((p) => p.batch.ahead),
    clearAhead: group.some((p) => p.batch.clearAhead),
    leasePid
  }
  if (!await commitSettlement(ctx.db, ctx.schema, settlement, checkpoint)) {
    ctx.log.warn({ listener_id: listenerId, from: first.from }, 'checkpoint moved by another reader or a replay, or the lease passed; batch discarded, re-reading')
    return false
  }
  ctx.progress.moved(listenerId, checkpoint.to)
  const now = performance.now()
  for (const { batch, started } of group) {
    ctx.stats.eventsProcessed += batch.rows.length
    ctx.metrics.eventsRead.inc(batch.rows.length)
    ctx.metrics.batchDuration.observe((now - started) / 1000)
  }
  if (settlement.retries.length > 0) onRetriesScheduled(firstDue(settlement))
  warnDeadLetters(ctx, settlement.deadLetters)
  return true
}
