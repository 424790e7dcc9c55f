// What a claimed retry or dead letter runs: its observer read afresh, its stored event checked
// against its schema, and the one action it owes; or, when it can no longer run, why, and what it
// leaves: a `cancelled` log row that names the reason, or a dead letter when an auto-disabled
// endpoint took its observer down (SPEC 9.3), so that a reset and a retry can send it again.
import { findObserversById, type StoredObserver } from '../../db/observers.repo.js'
import type { AttemptLog, ObserverEvent } from '../../model.js'
import type { RuntimeContext } from '../context.js'
import type { Delivery } from '../delivery/delivery.js'
import { parseStoredEvent } from '../delivery/event.js'
import { resolveRetryConfig } from '../delivery/retry-policy.js'
import { deadLetterOf } from '../delivery/settling.js'
import type { Problem, StoredWork } from './run-stored.js'

/** A delivery stored for later and claimed by this instance: a retry row or an action's dead letter. */
export interface StoredDelivery {
  claim: { from: 'retry', pk: string, token: string } | { from: 'dead_letter', id: string, token: string }
  observer_id: string
  action_index: number
  /** the event as stored (JSON), checked before it is used */
  event: unknown
  /** the attempt about to run */
  attempt: number
  first_failed_at: Date
}

/** Set by the runtime when an auto-disabled endpoint disables an observer (endpoints.repo.ts). */
const disabledByEndpoint = (observer: StoredObserver): boolean => observer.disabled_reason?.startsWith('endpoint ') === true

export async function loadStored (ctx: RuntimeContext, stored: readonly StoredDelivery[]): Promise<StoredWork[]> {
  const observers = await findObserversById(ctx.db, [...new Set(stored.map((s) => s.observer_id))])
  return stored.map((item): StoredWork => {
    const { claim } = item
    const event = parseStoredEvent(item.event)
    const observer = observers.get(item.observer_id)
    const action = observer?.actions[item.action_index]
    const retrying = claim.from === 'retry'
    let problem: Problem | undefined
    if ('problem' in event) problem = { code: 'INVALID_EVENT', message: event.problem }
    else if (observer === undefined || observer.deleted_at !== null) problem = { code: 'OBSERVER_DELETED', message: 'the observer was deleted' }
    else if (action === undefined) problem = { code: 'ACTION_GONE', message: `the observer no longer has action ${item.action_index}` }
    // an operator may still retry a dead letter of a disabled observer
    else if (retrying && !observer.enabled) {
      problem = disabledByEndpoint(observer)
        ? { code: 'ENDPOINT_DISABLED', message: observer.disabled_reason as string }
        : { code: 'OBSERVER_DISABLED', message: 'the observer was disabled' }
    }
    if (problem !== undefined || observer === undefined || action === undefined || 'problem' in event) {
      const failed = problem as Problem
      ctx.log.warn({ observer_id: item.observer_id, action_index: item.action_index, code: failed.code, origin: claim.from }, `stored delivery not run: ${failed.message}`)
      if (!retrying) return { claim, deliveries: [], problem: failed }
      if (failed.code === 'ENDPOINT_DISABLED') return { claim, deliveries: [], problem: { ...failed, deadLetter: deadLetterOf(observer as StoredObserver, item.action_index, observer?.actions[item.action_index]?.type ?? 'unknown', event as ObserverEvent, failed, Math.max(item.attempt - 1, 0), item.first_failed_at, new Date()) } }
      return { claim, deliveries: [], problem: { ...failed, logs: [notRun(item, event, failed)] } }
    }
    const retry = resolveRetryConfig(observer.retry_config)
    return {
      claim,
      deliveries: [{
        event,
        observer,
        // a dead letter gets one attempt now: a failure goes back to the dead letters, not to the schedule
        retry: retrying ? retry : { ...retry, max_attempts: item.attempt },
        actionIndex: item.action_index,
        action,
        attempt: item.attempt,
        firstFailedAt: item.first_failed_at,
        origin: retrying ? 'retry' : 'dead_letter'
      } satisfies Delivery]
    }
  })
}

/** The `cancelled` log row of a stored delivery that could not run: its observer is gone, or its event unreadable. */
export function notRun (item: Pick<StoredDelivery, 'observer_id' | 'action_index' | 'attempt'>, event: ReturnType<typeof parseStoredEvent>, problem: Problem): AttemptLog {
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
