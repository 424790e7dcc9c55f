// Operators' retries of dead letters: one attempt now, with the observer's current definition.
// A change-log row that could not be read as an event is read again: once it reads, it is planned
// and delivered like any event, and its actions then retry or dead-letter on their own.
import { findChangeLogRow } from '../../db/changelog-browse.repo.js'
import { claimDeadLetters, getDeadLetter, type DeadLetterFilter, type DeadLetterRow } from '../../db/dead-letter.repo.js'
import { commitSettlement } from '../../db/settlement.repo.js'
import { ConflictError, NotFoundError } from '../../errors.js'
import { warnDeadLetters, type RuntimeContext } from '../context.js'
import { planBatch } from '../read-path/planning.js'
import { claimMs, redeliver } from './run-stored.js'
import { emptySettlement, settle } from '../delivery/settling.js'

export type DeadLetterRetryResult = { id: string, status: 'delivered' } | { id: string, status: 'failed', error_message: string }

async function retryClaimed (ctx: RuntimeContext, items: DeadLetterRow[]): Promise<DeadLetterRetryResult[]> {
  const actions = items.filter((item) => item.observer_id !== null && item.action_index !== null)
  const results = await redeliver(ctx, actions.map((item) => ({
    origin: 'dead_letter',
    claim: item.id,
    observer_id: item.observer_id as string,
    action_index: item.action_index as number,
    event: item.event,
    attempt: item.attempts + 1,
    first_failed_at: new Date(item.first_failed_at)
  })))
  const byId = new Map<string, DeadLetterRetryResult>(results.map((r) => [r.claim, r.delivered
    ? { id: r.claim, status: 'delivered' }
    : { id: r.claim, status: 'failed', error_message: r.error_message }]))
  for (const item of items) if (!byId.has(item.id)) byId.set(item.id, await retryUnreadable(ctx, item))
  return items.map((item) => byId.get(item.id) as DeadLetterRetryResult)
}

/** A whole change that could not be read as an event: read it again, and deliver it if it now reads. */
async function retryUnreadable (ctx: RuntimeContext, item: DeadLetterRow): Promise<DeadLetterRetryResult> {
  const row = item.change_log_id === null ? undefined : await findChangeLogRow(ctx.db, String(item.change_log_id), undefined)
  await ctx.observers.refresh()
  const { deliveries, groups, refused } = planBatch(row === undefined ? [] : [row], ctx.observers.matcher, Number.POSITIVE_INFINITY)
  // ordered observers too: the entity's later events went on while this one was unreadable
  for (const group of groups) deliveries.push(...group.deliveries)
  const failure = row === undefined ? { code: 'CHANGE_GONE', message: 'the change-log row no longer exists' } : refused[0]
  if (failure !== undefined) {
    await commitSettlement(ctx.db, ctx.schema, emptySettlement(), { release: { retries: [], deadLetters: [{ id: item.id, delivered: false, failure }] } })
    return { id: item.id, status: 'failed', error_message: failure.message }
  }
  const attempts = await ctx.executor.runAll(deliveries)
  const settlement = settle(attempts)
  await commitSettlement(ctx.db, ctx.schema, settlement, { release: { retries: [], deadLetters: [{ id: item.id, delivered: true }] } })
  warnDeadLetters(ctx, settlement.deadLetters)
  const failedCount = attempts.filter((a) => !a.outcome.ok).length
  if (failedCount === 0) return { id: item.id, status: 'delivered' }
  return { id: item.id, status: 'failed', error_message: `the change now reads as an event; ${failedCount} of ${attempts.length} actions failed and were retried or dead-lettered on their own` }
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
