// Operators' retries of dead letters: one attempt now, with the observer's current definition.
import { claimDeadLetters, getDeadLetter, type DeadLetterFilter, type DeadLetterRow } from '../db/dead-letter.repo.js'
import { ConflictError, NotFoundError } from '../errors.js'
import type { RuntimeContext } from './context.js'
import { claimMs, redeliver } from './redelivery.js'

export type DeadLetterRetryResult = { id: string, status: 'delivered' } | { id: string, status: 'failed', error_message: string }

async function retryClaimed (ctx: RuntimeContext, items: DeadLetterRow[]): Promise<DeadLetterRetryResult[]> {
  const results = await redeliver(ctx, items.map((item) => ({
    origin: 'dead_letter',
    claim: item.id,
    observer_id: item.observer_id,
    action_index: item.action_index,
    event: item.event,
    attempt: item.attempts + 1,
    first_failed_at: new Date(item.first_failed_at)
  })))
  return results.map((r) => r.delivered ? { id: r.claim, status: 'delivered' } : { id: r.claim, status: 'failed', error_message: r.error_message })
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
