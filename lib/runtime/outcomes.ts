// What each attempt owes the database: its log row, and a retry or a dead letter when it failed.
// Pure: the caller writes the result in the batch's transaction.
import type { AttemptLog, BatchProgress } from '../db/delivery.repo.js'
import type { JsonObject } from '../model.js'
import type { AttemptResult } from './executor.js'
import { nextRetryDelay } from './retry-policy.js'

const MAX_TEXT = 4096
const clip = (text: string | undefined): string | null => text === undefined ? null : text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text

export function toProgress (results: readonly AttemptResult[], now = new Date(), random = Math.random): BatchProgress {
  const progress: BatchProgress = { logs: [], retries: [], deadLetters: [] }
  for (const { delivery, outcome, startedAt, durationMs } of results) {
    const { event, observer, actionIndex, action, attempt, retry } = delivery
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
    progress.logs.push(log)
    if (outcome.ok) continue
    // a failed attempt keeps (the start of) what the endpoint answered
    log.response_payload = clip(outcome.response)
    log.error_code = outcome.code
    log.error_message = clip(outcome.message)
    const firstFailedAt = delivery.firstFailedAt ?? startedAt
    let retryAt: Date | null = null
    if (outcome.code === 'CANCELLED') {
      // shutdown interrupted it: run the same attempt again as soon as someone can
      log.status = 'cancelled'
      retryAt = now
    } else {
      log.status = outcome.timedOut === true ? 'timeout' : 'failed'
      const delay = outcome.kind === 'transient' ? nextRetryDelay(retry, attempt, { retryAfterMs: outcome.retryAfterMs, random }) : null
      // counted from the attempt's logged end (completed_at), so next_retry_at - completed_at is
      // the delay the policy chose: the end is start + rounded duration, which can be up to a
      // millisecond past the clock read when the batch settled
      if (delay !== null) retryAt = new Date(Math.max(now.getTime(), startedMs + durationMs) + delay)
    }
    if (retryAt !== null) {
      log.next_retry_ms = retryAt.getTime()
      progress.retries.push({
        observer_id: observer.id,
        event_id: event.event_id,
        change_log_id: event.change_log_id,
        action_index: actionIndex,
        event: event as unknown as JsonObject,
        attempt_number: log.status === 'cancelled' ? attempt : attempt + 1,
        first_failed_at: firstFailedAt,
        due_at: retryAt,
        last_error: log.error_message
      })
      continue
    }
    progress.deadLetters.push({
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
      event: event as unknown as JsonObject,
      error_code: outcome.code,
      error_message: clip(outcome.message),
      attempts: attempt,
      first_failed_at: firstFailedAt,
      last_failed_at: new Date(startedMs + durationMs)
    })
  }
  return progress
}
