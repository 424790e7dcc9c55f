// The one path that runs a stored delivery again: a retry that fell due, an operator's retry of a
// dead letter (and, later, a replay). The stored event is checked against its schema, the observer
// is read afresh, the attempt runs through the executor like any other, and the result is settled
// and committed through the same repository call as the read path, which also ends the claims.
import type { AttemptLog, Settlement } from '../../model.js'
import { findLiveObservers } from '../../db/observers.repo.js'
import { commitSettlement, type ClaimsToRelease } from '../../db/settlement.repo.js'
import type { RuntimeContext } from '../context.js'
import { warnDeadLetters } from '../context.js'
import type { Delivery } from '../delivery/delivery.js'
import { parseStoredEvent } from '../delivery/event.js'
import { resolveRetryConfig } from '../delivery/retry-policy.js'
import { emptySettlement, settle } from '../delivery/settling.js'

/** A delivery stored for later, claimed by this instance. */
export interface StoredDelivery {
  origin: 'retry' | 'dead_letter'
  /** what was claimed: the retry's pk, or the dead letter's id */
  claim: string
  observer_id: string
  action_index: number
  /** the event as stored (JSON), checked before it is used */
  event: unknown
  /** the attempt about to run */
  attempt: number
  first_failed_at: Date
}

export type RedeliveryResult = { claim: string, delivered: true } | { claim: string, delivered: false, error_code: string, error_message: string }

/** How long a claim lasts: beyond the longest attempt, so a live worker never loses its claim. */
export function claimMs (ctx: RuntimeContext): number {
  return ctx.observers.longestTimeoutMs(30_000) * 2 + 10_000
}

/** Runs the claimed deliveries once each and commits what they owe; never leaves a claim behind. */
export async function redeliver (ctx: RuntimeContext, stored: readonly StoredDelivery[]): Promise<RedeliveryResult[]> {
  const observers = await findLiveObservers(ctx.db, [...new Set(stored.map((s) => s.observer_id))])
  const deliveries: Delivery[] = []
  const runs: StoredDelivery[] = []
  const results = new Map<string, RedeliveryResult>()
  const settlement: Settlement = emptySettlement()
  for (const item of stored) {
    const event = parseStoredEvent(item.event)
    const observer = observers.get(item.observer_id)
    const action = observer?.actions[item.action_index]
    let problem: { code: string, message: string } | undefined
    if ('problem' in event) problem = { code: 'INVALID_EVENT', message: event.problem }
    // a retry is dropped once its observer is disabled; an operator may still retry a dead letter
    else if (observer === undefined || action === undefined || (item.origin === 'retry' && !observer.enabled)) {
      problem = { code: 'OBSERVER_GONE', message: 'the observer is disabled or deleted, or its action no longer exists' }
    }
    if (problem === undefined && observer !== undefined && action !== undefined && !('problem' in event)) {
      const retry = resolveRetryConfig(observer.retry_config)
      deliveries.push({
        event,
        observer,
        // a dead letter gets one attempt now: a failure goes back to the dead letters, not to the schedule
        retry: item.origin === 'dead_letter' ? { ...retry, max_attempts: item.attempt } : retry,
        actionIndex: item.action_index,
        action,
        attempt: item.attempt,
        firstFailedAt: item.first_failed_at,
        origin: item.origin
      })
      runs.push(item)
      continue
    }
    const failed = problem as { code: string, message: string }
    ctx.log.warn({ observer_id: item.observer_id, action_index: item.action_index, code: failed.code, origin: item.origin }, `stored delivery not run: ${failed.message}`)
    if (item.origin === 'retry') settlement.logs.push(notRun(item, event, failed))
    results.set(item.claim, { claim: item.claim, delivered: false, error_code: failed.code, error_message: failed.message })
  }
  const attempts = await ctx.executor.runAll(deliveries)
  settle(attempts, new Date(), Math.random, settlement)
  attempts.forEach(({ outcome }, i) => {
    const claim = runs[i].claim
    results.set(claim, outcome.ok ? { claim, delivered: true } : { claim, delivered: false, error_code: outcome.code, error_message: outcome.message })
  })
  const release: ClaimsToRelease = { retries: [], deadLetters: [] }
  for (const item of stored) {
    const result = results.get(item.claim) as RedeliveryResult
    if (item.origin === 'retry') release.retries.push(item.claim)
    else if (result.delivered) release.deadLetters.push({ id: item.claim, delivered: true })
    // run and failed: the settlement updated the dead letter; not run: it counts as an attempt too
    else release.deadLetters.push({ id: item.claim, delivered: false, failure: runs.includes(item) ? undefined : { code: result.error_code, message: result.error_message } })
  }
  await commitSettlement(ctx.db, ctx.schema, settlement, { release })
  warnDeadLetters(ctx, settlement.deadLetters)
  return stored.map((item) => results.get(item.claim) as RedeliveryResult)
}

/** The log row of a stored retry that could not run: its observer is gone, or its event unreadable. */
function notRun (item: StoredDelivery, event: ReturnType<typeof parseStoredEvent>, problem: { code: string, message: string }): AttemptLog {
  const known = 'problem' in event ? undefined : event
  return {
    observer_id: item.observer_id,
    event_id: known?.event_id ?? '00000000-0000-0000-0000-000000000000',
    change_log_id: known?.change_log_id ?? null,
    entity_type: known?.entity_type ?? 'unknown',
    entity_id: known?.entity_id ?? 'unknown',
    event_type: known?.event_type ?? 'unknown',
    action_index: item.action_index,
    action_type: 'unknown',
    status: 'cancelled',
    attempt_number: item.attempt,
    max_attempts: item.attempt,
    started_ms: Date.now(),
    duration_ms: 0,
    error_code: problem.code,
    error_message: problem.message,
    trace_id: known?.trace_id ?? null
  }
}
