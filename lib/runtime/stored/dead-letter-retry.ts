// Operators' retries of dead letters: one attempt now, with the observer's current definition.
// A change-log row that could not be read as an event is read again: once it reads, it is planned
// and delivered like any event, and its actions then retry or dead-letter on their own.
import { randomUUID } from 'node:crypto'
import { findChangeLogRow } from '../../db/changelog-browse.repo.js'
import { claimDeadLetters, getDeadLetter, type DeadLetterFilter, type DeadLetterRow } from '../../db/dead-letter.repo.js'
import { ConflictError, NotFoundError } from '../../errors.js'
import type { RuntimeContext } from '../context.js'
import type { AttemptResult } from '../delivery/attempt.js'
import { planBatch } from '../read-path/planning.js'
import { CLAIM_MS } from '../delivery/executor.js'
import { loadStored } from './load-stored.js'
import { runStored, type StoredWork } from './run-stored.js'

export type DeadLetterRetryResult = { id: string, status: 'delivered' } | { id: string, status: 'failed', error_message: string }

async function retryClaimed (ctx: RuntimeContext, items: DeadLetterRow[], token: string, claimFor: number): Promise<DeadLetterRetryResult[]> {
  const actions = items.filter((item) => item.observer_id !== null && item.action_index !== null)
  const changes = items.filter((item) => !actions.includes(item))
  const work = [
    ...await loadStored(ctx, actions.map((item) => ({
      claim: { from: 'dead_letter', id: item.id, token },
      observer_id: item.observer_id as string,
      action_index: item.action_index as number,
      event: item.event,
      attempt: item.attempts + 1,
      first_failed_at: new Date(item.first_failed_at)
    }))),
    ...await Promise.all(changes.map(async (item) => await readAgain(ctx, item, token)))
  ]
  const ran = await runStored(ctx, work, { claimMs: claimFor })
  const byId = new Map(work.map((w, i) => [(w.claim as { id: string }).id, resultOf(w, ran[i])]))
  return items.map((item) => byId.get(item.id) as DeadLetterRetryResult)
}

/** A whole change that could not be read as an event: read again, it runs if it now reads. */
async function readAgain (ctx: RuntimeContext, item: DeadLetterRow, token: string): Promise<StoredWork> {
  const claim = { from: 'unreadable', id: item.id, token } as const
  const row = item.change_log_id === null ? undefined : await findChangeLogRow(ctx.db, String(item.change_log_id), undefined)
  if (row === undefined) return { claim, deliveries: [], problem: { code: 'CHANGE_GONE', message: 'the change-log row no longer exists' } }
  await ctx.observers.refresh()
  const { deliveries, groups, refused } = planBatch([row], ctx.observers.matcher, Number.POSITIVE_INFINITY)
  if (refused.length > 0) return { claim, deliveries: [], problem: { code: refused[0].code, message: refused[0].message } }
  // ordered observers too: the entity's later events went on while this one was unreadable
  return { claim, deliveries: [...deliveries, ...groups.flatMap((g) => g.deliveries)] }
}

function resultOf (work: StoredWork, results: readonly AttemptResult[]): DeadLetterRetryResult {
  const id = (work.claim as { id: string }).id
  if (work.problem !== undefined) return { id, status: 'failed', error_message: work.problem.message }
  const failed = results.filter((r) => !r.outcome.ok)
  if (failed.length === 0) return { id, status: 'delivered' }
  if (work.claim.from === 'unreadable') {
    return { id, status: 'failed', error_message: `the change now reads as an event; ${failed.length} of ${results.length} actions failed and were retried or dead-lettered on their own` }
  }
  const { outcome } = failed[0]
  return { id, status: 'failed', error_message: outcome.ok ? '' : outcome.message }
}

export async function retryDeadLetter (ctx: RuntimeContext, id: string, filter: DeadLetterFilter = {}): Promise<DeadLetterRetryResult> {
  const token = randomUUID()
  const claimFor = CLAIM_MS
  const claimed = await claimDeadLetters(ctx.db, { ...filter, id }, 1, claimFor, token)
  if (claimed.length === 0) {
    const existing = await getDeadLetter(ctx.db, id)
    if (existing === undefined || (filter.tenant_id !== undefined && existing.tenant_id !== filter.tenant_id)) throw new NotFoundError('dead letter')
    throw new ConflictError('this dead letter is already being retried')
  }
  return (await retryClaimed(ctx, claimed, token, claimFor))[0]
}

export async function retryAllDeadLetters (ctx: RuntimeContext, filter: DeadLetterFilter): Promise<{ retried: number, delivered: number, failed: number }> {
  const totals = { retried: 0, delivered: 0, failed: 0 }
  // walk forward by internal id: items that fail again stay behind us and are not retried twice
  let afterPk: string | undefined
  for (;;) {
    const token = randomUUID()
    const claimFor = CLAIM_MS
    const claimed = await claimDeadLetters(ctx.db, { ...filter, afterPk }, ctx.options.runtime.batchSize, claimFor, token)
    if (claimed.length === 0) return totals
    afterPk = claimed.reduce((max, item) => BigInt(item.pk_observer_dead_letter) > BigInt(max) ? String(item.pk_observer_dead_letter) : max, String(claimed[0].pk_observer_dead_letter))
    for (const result of await retryClaimed(ctx, claimed, token, claimFor)) {
      totals.retried++
      if (result.status === 'delivered') totals.delivered++
      else totals.failed++
    }
  }
}
