// Settling: what each finished attempt owes the database — its log row, and a retry or a dead
// letter when it failed. Pure: the caller commits the Settlement (lib/db/settlement.repo.ts).
import type { ActionOutcome } from '../actions/types.js'
import type { AttemptLog, Settlement } from '../model.js'
import type { Delivery } from './delivery.js'
import { nextRetryDelay } from './retry-policy.js'

/** How one attempt of one delivery ended. */
export interface AttemptResult {
  delivery: Delivery
  outcome: ActionOutcome
  startedAt: Date
  durationMs: number
  /** the `traceparent` the attempt's retries continue when the event carried no trace */
  trace?: { readonly started: string | undefined }
}

const MAX_TEXT = 4096
const clip = (text: string | undefined): string | null => text === undefined ? null : text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text

export const emptySettlement = (): Settlement => ({ logs: [], retries: [], deadLetters: [] })

export function settle (results: readonly AttemptResult[], now = new Date(), random = Math.random, into: Settlement = emptySettlement()): Settlement {
  for (const { delivery, outcome, startedAt, durationMs, trace } of results) {
    const { observer, actionIndex, action, attempt, retry } = delivery
    let event = delivery.event
    const startedMs = startedAt.getTime()
    const log: AttemptLog = {
      observer_id: observer.id,
      event_id: event.event_id,
      change_log_id: event.change_log_id,
      entity_type: event.entity_type,
      entity_id: event.entity_id,
      event_type: event.event_type,
      action_index: actionIndex,
      action_type: action.type,
      status: 'success',
      attempt_number: attempt,
      max_attempts: retry.max_attempts,
      started_ms: startedMs,
      duration_ms: durationMs,
      // absent rather than null: the log rows travel as one JSON document, the smaller the better
      response_status_code: outcome.statusCode,
      trace_id: event.trace_id ?? undefined
    }
    into.logs.push(log)
    if (outcome.ok) continue
    // a failed attempt keeps (the start of) what the endpoint answered
    log.response_payload = clip(outcome.response)
    log.error_code = outcome.code
    log.error_message = clip(outcome.message)
    log.request_payload = outcome.request
    // a retry stays in the trace its first attempt started
    if (trace?.started !== undefined) event = { ...event, traceparent: trace.started, tracestate: null }
    const firstFailedAt = delivery.firstFailedAt ?? startedAt
    let retryAt: Date | null = null
    if (outcome.code === 'CANCELLED') {
      log.status = 'cancelled'
      // interrupted by a shutdown: the same attempt runs again as soon as someone can; a dead
      // letter being retried simply stays where it was
      if (delivery.origin === 'dead_letter') continue
      retryAt = now
    } else {
      log.status = outcome.timedOut === true ? 'timeout' : 'failed'
      const delay = outcome.kind === 'transient' ? nextRetryDelay(retry, attempt, { retryAfterMs: outcome.retryAfterMs, random }) : null
      // counted from the attempt's logged end (start + rounded duration, which can be a
      // millisecond past `now`), so next_retry_at - completed_at is the delay the policy chose
      if (delay !== null) retryAt = new Date(Math.max(now.getTime(), startedMs + durationMs) + delay)
    }
    if (retryAt !== null) {
      log.next_retry_ms = retryAt.getTime()
      into.retries.push({
        observer_id: observer.id,
        event_id: event.event_id,
        change_log_id: event.change_log_id,
        action_index: actionIndex,
        event,
        attempt_number: log.status === 'cancelled' ? attempt : attempt + 1,
        first_failed_at: firstFailedAt,
        due_at: retryAt,
        last_error: log.error_message
      })
      continue
    }
    into.deadLetters.push({
      observer_id: observer.id,
      observer_name: observer.name,
      event_id: event.event_id,
      change_log_id: event.change_log_id,
      entity_type: event.entity_type,
      entity_id: event.entity_id,
      event_type: event.event_type,
      tenant_id: event.tenant_id,
      action_index: actionIndex,
      action_type: action.type,
      event,
      error_code: outcome.code,
      error_message: clip(outcome.message),
      attempts: attempt,
      first_failed_at: firstFailedAt,
      last_failed_at: new Date(startedMs + durationMs)
    })
  }
  return into
}
