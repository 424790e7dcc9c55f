// Settling: what each finished attempt owes the database — its log row, and a retry or a dead
// letter when it failed. Pure: the caller commits the Settlement (lib/db/settlement.repo.ts).
import type { AttemptLog, DeadLetterToWrite, Observer, ObserverEvent, RetryToSchedule, Settlement } from '../../model.js'
import type { AttemptResult } from './attempt.js'
import type { RefusedRow } from './event.js'
import { nextRetryDelay } from './retry-policy.js'
import { waitsForCircuit } from '../endpoints/circuit.js'

const MAX_TEXT = 4096
const clip = (text: string | undefined): string | null => text === undefined ? null : text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text

/**
 * What a finished attempt leaves owed: nothing more, a retry, or a dead letter; `defer` when no
 * attempt was made (its endpoint is open, paused or busy): the same attempt waits until then.
 */
export type Disposition = 'done' | 'retry' | 'defer' | 'dead_letter'

export function disposition ({ delivery, outcome }: AttemptResult): Disposition {
  if (outcome.ok) return 'done'
  // a dead letter an operator retries stays a dead letter
  if (outcome.deferUntil !== undefined) return delivery.origin === 'dead_letter' ? 'done' : 'defer'
  if (outcome.code === 'CANCELLED') return delivery.origin === 'dead_letter' ? 'done' : 'retry'
  // nextRetryDelay is null exactly when the attempt was the last allowed
  return outcome.kind === 'transient' && delivery.attempt < delivery.retry.max_attempts ? 'retry' : 'dead_letter'
}

/** The retry row that schedules `attempt` of the result's delivery at `dueAt`. */
function retryOf ({ delivery, endpoint, detached, claim }: AttemptResult, event: ObserverEvent, attempt: number, firstFailedAt: Date, dueAt: Date, lastError: string | null, waitsForCircuit: boolean): RetryToSchedule {
  return {
    observer_id: delivery.observer.id,
    event_id: event.event_id,
    change_log_id: event.change_log_id,
    action_index: delivery.actionIndex,
    event,
    attempt_number: attempt,
    first_failed_at: firstFailedAt,
    due_at: dueAt,
    last_error: lastError,
    endpoint: endpoint ?? null,
    // a handed-over attempt is still running here: no retry worker may take it meanwhile
    claimed_until: detached === undefined ? null : dueAt,
    claimed_by: detached === undefined ? undefined : claim,
    waitsForCircuit
  }
}

/** When the first of a settlement's retries falls due (epoch ms). */
export function firstDue ({ retries }: Settlement): number {
  let first = Number.POSITIVE_INFINITY
  for (const { due_at: dueAt } of retries) first = Math.min(first, dueAt.getTime())
  return first
}

/** Several batches' settlements as one (a group commit). */
export function mergeSettlements (all: readonly Settlement[]): Settlement {
  return {
    logs: all.flatMap((p) => p.logs),
    retries: all.flatMap((p) => p.retries),
    deadLetters: all.flatMap((p) => p.deadLetters),
    holds: all.flatMap((p) => p.holds),
    parked: all.flatMap((p) => p.parked)
  }
}

export const emptySettlement = (): Settlement => ({ logs: [], retries: [], deadLetters: [], holds: [], parked: [] })

export function settle (results: readonly AttemptResult[], now = new Date(), random = Math.random, into: Settlement = emptySettlement()): Settlement {
  for (const result of results) {
    const { delivery, outcome, startedAt, durationMs, trace } = result
    const { observer, actionIndex, action, attempt, retry } = delivery
    let event = delivery.event
    const startedMs = startedAt.getTime()
    const owed = disposition(result)
    if (owed === 'defer' && !outcome.ok && outcome.deferUntil !== undefined) {
      // not attempted: the same attempt waits, and no log row is written for it
      into.retries.push(retryOf(result, event, attempt, delivery.firstFailedAt ?? startedAt, outcome.deferUntil, clip(outcome.message), waitsForCircuit(outcome.code) && result.detached === undefined))
      continue
    }
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
    const cancelled = outcome.code === 'CANCELLED'
    log.status = cancelled ? 'cancelled' : outcome.timedOut === true ? 'timeout' : 'failed'
    // a dead letter whose retry a shutdown interrupted simply stays where it was
    if (owed === 'done') continue
    if (owed === 'retry') {
      // interrupted by a shutdown: the same attempt runs again as soon as someone can. Otherwise
      // counted from the attempt's logged end (start + rounded duration, which can be a
      // millisecond past `now`), so next_retry_at - completed_at is the delay the policy chose
      const retryAt = cancelled
        ? now
        : new Date(Math.max(now.getTime(), startedMs + durationMs) + (nextRetryDelay(retry, attempt, { retryAfterMs: outcome.retryAfterMs, random }) ?? 0))
      log.next_retry_ms = retryAt.getTime()
      into.retries.push(retryOf(result, event, cancelled ? attempt : attempt + 1, firstFailedAt, retryAt, log.error_message, false))
      continue
    }
    into.deadLetters.push(deadLetterOf(observer, actionIndex, action.type, event, { code: outcome.code, message: clip(outcome.message) }, attempt, firstFailedAt, new Date(startedMs + durationMs)))
  }
  return into
}

/** The dead letter of one action of one event. */
export function deadLetterOf (observer: Pick<Observer, 'id' | 'name'>, actionIndex: number, actionType: string, event: ObserverEvent, error: { code: string, message: string | null }, attempts: number, firstFailedAt: Date, lastFailedAt: Date): DeadLetterToWrite {
  return {
    observer_id: observer.id,
    observer_name: observer.name,
    event_id: event.event_id,
    change_log_id: event.change_log_id,
    entity_type: event.entity_type,
    entity_id: event.entity_id,
    event_type: event.event_type,
    tenant_id: event.tenant_id,
    action_index: actionIndex,
    action_type: actionType,
    event,
    error_code: error.code,
    error_message: error.message,
    attempts,
    first_failed_at: firstFailedAt,
    last_failed_at: lastFailedAt
  }
}

/** A change-log row that is not an event is dead-lettered as a whole: no observer, no action. */
export function settleUnreadable (refused: readonly RefusedRow[], into: Settlement, now = new Date()): Settlement {
  for (const { row, code, message } of refused) {
    into.deadLetters.push({
      observer_id: null,
      observer_name: null,
      event_id: row.id,
      change_log_id: row.pk_entity_change_log,
      entity_type: row.object_type,
      entity_id: row.object_id,
      event_type: String(row.modification_type),
      tenant_id: row.tenant_id,
      action_index: null,
      action_type: null,
      event: { ...row },
      error_code: code,
      error_message: clip(message),
      attempts: 1,
      first_failed_at: now,
      last_failed_at: now
    })
  }
  return into
}
