// Operators' retries of dead letters: one attempt now, with the observer's current definition.
import { writeProgress } from '../db/delivery.repo.js'
import { claimDeadLetters, failedAgain, getDeadLetter, type DeadLetterFilter, type DeadLetterRow } from '../db/dead-letter.repo.js'
import { findLiveObserver } from '../db/observers.repo.js'
import { ConflictError, NotFoundError } from '../errors.js'
import type { ObserverEvent } from '../model.js'
import { runDeliveries, type RuntimeContext } from './context.js'
import { resolveRetryConfig } from './retry-policy.js'
import { toProgress } from './outcomes.js'
import { claimMs } from './retry-worker.js'

export type DeadLetterRetryResult = { id: string, status: 'delivered' } | { id: string, status: 'failed', error_message: string }

async function retryClaimed (ctx: RuntimeContext, items: DeadLetterRow[]): Promise<DeadLetterRetryResult[]> {
  const out: DeadLetterRetryResult[] = []
  const runnable = []
  for (const item of items) {
    const observer = await findLiveObserver(ctx.db, item.observer_id)
    const action = observer?.actions[item.action_index]
    if (observer === undefined || action === undefined) {
      const message = 'the observer or its action no longer exists'
      await failedAgain(ctx.db, item.id, 'OBSERVER_GONE', message)
      out.push({ id: item.id, status: 'failed', error_message: message })
      continue
    }
    runnable.push({
      item,
      delivery: {
        event: item.event as unknown as ObserverEvent,
        observer,
        // one attempt now: a failure goes back to the dead letters, not to the retry schedule
        retry: { ...resolveRetryConfig(observer.retry_config), max_attempts: item.attempts + 1 },
        actionIndex: item.action_index,
        action,
        attempt: item.attempts + 1,
        firstFailedAt: new Date(item.first_failed_at)
      }
    })
  }
  const results = await runDeliveries(ctx, runnable.map((r) => r.delivery))
  for (let i = 0; i < results.length; i++) {
    const { item } = runnable[i]
    const { outcome } = results[i]
    const progress = toProgress([results[i]])
    await ctx.db.transaction().execute(async (trx) => {
      await writeProgress(trx, ctx.schema, { logs: progress.logs, retries: [], deadLetters: [] })
      if (outcome.ok) await trx.deleteFrom('tb_observer_dead_letter').where('id', '=', item.id).execute()
      else await failedAgain(trx, item.id, outcome.code, outcome.message)
    })
    out.push(outcome.ok ? { id: item.id, status: 'delivered' } : { id: item.id, status: 'failed', error_message: outcome.message })
  }
  return out
}

export async function retryDeadLetter (ctx: RuntimeContext, id: string, filter: DeadLetterFilter = {}): Promise<DeadLetterRetryResult> {
  const claimed = await claimDeadLetters(ctx.db, { ...filter, id }, 1, claimMs(ctx))
  if (claimed.length === 0) {
    const existing = await getDeadLetter(ctx.db, id)
    if (existing === undefined || (filter.tenant_id !== undefined && existing.tenant_id !== filter.tenant_id)) throw new NotFoundError('dead letter')
    throw new ConflictError('this dead letter is already being retried')
  }
  return (await retryClaimed(ctx, claimed))[0]
}

export async function retryAllDeadLetters (ctx: RuntimeContext, filter: DeadLetterFilter): Promise<{ retried: number, delivered: number, failed: number }> {
  const totals = { retried: 0, delivered: 0, failed: 0 }
  // walk forward by internal id: items that fail again stay behind us and are not retried twice
  let afterPk: string | undefined
  for (;;) {
    const claimed = await claimDeadLetters(ctx.db, { ...filter, afterPk }, ctx.options.runtime.batchSize, claimMs(ctx))
    if (claimed.length === 0) return totals
    afterPk = claimed.reduce((max, item) => BigInt(item.pk_observer_dead_letter) > BigInt(max) ? String(item.pk_observer_dead_letter) : max, String(claimed[0].pk_observer_dead_letter))
    for (const result of await retryClaimed(ctx, claimed)) {
      totals.retried++
      if (result.status === 'delivered') totals.delivered++
      else totals.failed++
    }
  }
}
