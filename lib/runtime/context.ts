// What the runtime's loops share: configuration, database, actions, the current matcher, counters.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { ActionRegistry } from '../actions/registry.js'
import type { ActionServices } from '../actions/types.js'
import type { DeadLetterToWrite } from '../db/delivery.repo.js'
import type { Database } from '../db/types.js'
import type { Observer } from '../model.js'
import type { ResolvedOptions } from '../options.js'
import type { Limiter } from './concurrency.js'
import type { Delivery } from './delivery.js'
import { runAttempt, type AttemptResult, type InFlightAttempts } from './executor.js'
import type { Matcher } from './matcher.js'
import type { Metrics } from './metrics.js'

export interface RuntimeStats {
  eventsProcessed: number
  errors: number
  lastError: string | null
  lastErrorAt: number
}

export interface RuntimeContext {
  readonly options: ResolvedOptions
  readonly db: Kysely<Database>
  readonly schema: string
  readonly log: FastifyBaseLogger
  readonly registry: ActionRegistry
  readonly services: ActionServices
  readonly metrics: Metrics
  readonly stats: RuntimeStats
  /** the matcher of the last reload, and the observers it holds by id */
  matcher: Matcher
  observersById: Map<string, Observer>
  /** the attempts in flight; interrupted at the drain deadline of a shutdown */
  readonly inFlight: InFlightAttempts
  /** bounds the actions running at once (`runtime.concurrency`) across all loops */
  readonly limiter: Limiter
}

/** One warning per action given up on, with its ids (called once the dead letter is committed). */
export function warnDeadLetters (ctx: RuntimeContext, items: readonly DeadLetterToWrite[]): void {
  for (const item of items) {
    ctx.log.warn({ observer_id: item.observer_id, event_id: item.event_id, action_index: item.action_index, code: item.error_code }, `action dead-lettered: ${item.error_message ?? ''}`)
  }
}

export function recordError (ctx: RuntimeContext, err: unknown, ids: Record<string, unknown>, message: string): void {
  ctx.stats.errors++
  ctx.stats.lastError = `${message}: ${err instanceof Error ? err.message : String(err)}`
  ctx.stats.lastErrorAt = Date.now()
  ctx.log.error({ err, ...ids }, message)
}

/** Runs deliveries with bounded concurrency and counts their outcomes. Never throws. */
export async function runDeliveries (ctx: RuntimeContext, deliveries: readonly Delivery[]): Promise<AttemptResult[]> {
  const results = await new Promise<AttemptResult[]>((resolve) => {
    const results = new Array<AttemptResult>(deliveries.length)
    let left = deliveries.length
    if (left === 0) resolve(results)
    for (let i = 0; i < deliveries.length; i++) {
      // runAttempt never rejects
      ctx.limiter.submit(() => runAttempt(deliveries[i], ctx.registry, ctx.services, ctx.inFlight).then((result) => {
        results[i] = result
        if (--left === 0) resolve(results)
      }))
    }
  })
  // one counter update per (type, outcome) of the batch: prom-client hashes the labels on every call
  const counts = new Map<string, { action_type: string, outcome: string, n: number }>()
  for (const { delivery, outcome, durationMs } of results) {
    const type = delivery.action.type
    const kind = outcome.ok ? 'success' : outcome.code === 'CANCELLED' ? 'cancelled' : outcome.kind
    const key = `${type}\n${kind}`
    const count = counts.get(key)
    if (count === undefined) counts.set(key, { action_type: type, outcome: kind, n: 1 })
    else count.n++
    ctx.metrics.actionDuration.observe({ action_type: type }, durationMs / 1000)
    // every attempt is in tb_observer_log; per attempt the log line is debug (a failing endpoint
    // would otherwise flood the host's log at thousands of lines a second); dead letters are warned
    if (!outcome.ok && outcome.code !== 'CANCELLED') {
      ctx.log.debug({ observer_id: delivery.observer.id, event_id: delivery.event.event_id, action_index: delivery.actionIndex, attempt: delivery.attempt, code: outcome.code, status_code: outcome.statusCode }, `action failed: ${outcome.message}`)
    }
  }
  for (const { action_type: actionType, outcome, n } of counts.values()) ctx.metrics.actions.inc({ action_type: actionType, outcome }, n)
  return results
}
