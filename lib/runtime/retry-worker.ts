// Runs retries that fell due. Any instance may: claims keep two from running the same one.
import { writeProgress, type AttemptLog } from '../db/delivery.repo.js'
import { claimDueRetries, deleteRetries, type RetryRow } from '../db/retry.repo.js'
import type { ObserverEvent } from '../model.js'
import { runDeliveries, warnDeadLetters, type RuntimeContext } from './context.js'
import type { Delivery } from './delivery.js'
import { resolveRetryConfig } from './retry-policy.js'
import { toProgress } from './outcomes.js'

/** How long a claim lasts: beyond the longest attempt, so a live worker never loses its claim. */
export function claimMs (ctx: RuntimeContext): number {
  let longest = 30_000
  for (const observer of ctx.observersById.values()) longest = Math.max(longest, observer.timeout_ms)
  return longest * 2 + 10_000
}

function cancelled (row: RetryRow, event: ObserverEvent, reason: string): AttemptLog {
  return {
    observer_id: row.observer_id,
    event_id: row.event_id,
    change_log_id: row.change_log_id,
    entity_type: event.entity_type,
    entity_id: event.entity_id,
    event_type: event.event_type,
    action_index: row.action_index,
    action_type: 'unknown',
    status: 'cancelled',
    attempt_number: row.attempt_number,
    max_attempts: row.attempt_number,
    started_ms: Date.now(),
    duration_ms: 0,
    error_code: 'OBSERVER_GONE',
    error_message: reason,
    trace_id: event.trace_id
  }
}

/** Claims and runs one round of due retries; returns how many ran. */
export async function runDueRetries (ctx: RuntimeContext): Promise<number> {
  const rows = await claimDueRetries(ctx.db, ctx.options.runtime.batchSize, claimMs(ctx))
  if (rows.length === 0) return 0
  const deliveries: Delivery[] = []
  const dropped: AttemptLog[] = []
  for (const row of rows) {
    const event = row.event as unknown as ObserverEvent
    const observer = ctx.observersById.get(row.observer_id)
    const action = observer?.actions[row.action_index]
    if (observer === undefined || action === undefined) {
      // disabled, deleted, or the action was removed: nothing left to retry
      dropped.push(cancelled(row, event, 'observer disabled, deleted or changed; retry dropped'))
      continue
    }
    deliveries.push({
      event,
      observer,
      retry: resolveRetryConfig(observer.retry_config),
      actionIndex: row.action_index,
      action,
      attempt: row.attempt_number,
      firstFailedAt: new Date(row.first_failed_at)
    })
  }
  const results = await runDeliveries(ctx, deliveries)
  const progress = toProgress(results)
  progress.logs.push(...dropped)
  await ctx.db.transaction().execute(async (trx) => {
    // the claimed rows are done; what failed again is scheduled anew (or dead-lettered) with them
    await deleteRetries(trx, rows.map((r) => String(r.pk_observer_retry)))
    await writeProgress(trx, ctx.schema, progress)
  })
  warnDeadLetters(ctx, progress.deadLetters)
  return rows.length
}
