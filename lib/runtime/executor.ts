// Runs one attempt of one delivery: validates the config, bounds the time, never throws.
import type { ActionOutcome, ActionServices } from '../actions/types.js'
import type { ActionRegistry } from '../actions/registry.js'
import { toEnvelope } from './event.js'
import { idempotencyKey, type Delivery } from './delivery.js'

export interface AttemptResult {
  delivery: Delivery
  outcome: ActionOutcome
  startedAt: Date
  durationMs: number
}

const permanent = (code: string, message: string): ActionOutcome => ({ ok: false, kind: 'permanent', code, message })

/** Interrupted by shutdown: not an attempt that counts; it is rescheduled as it was. */
export const CANCELLED: ActionOutcome = Object.freeze({ ok: false, kind: 'transient', code: 'CANCELLED', message: 'interrupted by shutdown; rescheduled' })

export async function runAttempt (delivery: Delivery, registry: ActionRegistry, services: ActionServices, inFlight: InFlightAttempts): Promise<AttemptResult> {
  const startedAt = new Date()
  const start = performance.now()
  const outcome = await attempt(delivery, registry, services, inFlight)
  return { delivery, outcome, startedAt, durationMs: Math.round(performance.now() - start) }
}

/**
 * The attempts in flight, so that a shutdown's drain deadline can interrupt them all. (One set
 * instead of a listener per attempt on a shared signal: no listener churn on the hot path.)
 */
export class InFlightAttempts {
  private readonly controllers = new Set<AbortController>()
  /** set at the drain deadline: what fails from now on was interrupted, not refused */
  interrupted = false

  add (controller: AbortController): void { this.controllers.add(controller) }
  delete (controller: AbortController): void { this.controllers.delete(controller) }

  interruptAll (reason: Error): void {
    this.interrupted = true
    for (const controller of this.controllers) controller.abort(reason)
  }

  reset (): void { this.interrupted = false }
}

async function attempt (delivery: Delivery, registry: ActionRegistry, services: ActionServices, inFlight: InFlightAttempts): Promise<ActionOutcome> {
  const { action, observer, actionIndex } = delivery
  const definition = registry.get(action.type)
  if (definition === undefined) return permanent('CONFIG', `unknown action type '${action.type}'`)
  const problem = registry.validate(action, actionIndex)
  if (problem !== null) return permanent('CONFIG', problem)
  const timeoutMs = typeof action.timeout_ms === 'number' ? action.timeout_ms : observer.timeout_ms
  if (inFlight.interrupted) return CANCELLED
  // one controller per attempt, aborted by its timeout or by the runtime's drain deadline
  const controller = new AbortController()
  inFlight.add(controller)
  let timer: NodeJS.Timeout | undefined
  // the action should honour the signal; this bounds the attempt even when it does not
  const timedOut = new Promise<ActionOutcome>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'))
      resolve({ ok: false, kind: 'transient', code: 'TIMEOUT', message: `no answer within ${timeoutMs} ms`, timedOut: true })
    }, timeoutMs)
    timer.unref()
  })
  const ctx = {
    observer: { id: observer.id, name: observer.name },
    actionIndex,
    attempt: delivery.attempt,
    idempotencyKey: idempotencyKey(delivery.event.event_id, observer.id, actionIndex),
    timeoutMs,
    signal: controller.signal,
    services
  }
  try {
    const outcome = await Promise.race([definition.run(toEnvelope(delivery.event, observer), action, ctx), timedOut])
    return !outcome.ok && inFlight.interrupted ? CANCELLED : outcome
  } catch (err) {
    if (inFlight.interrupted) return CANCELLED
    return { ok: false, kind: 'transient', code: 'EXCEPTION', message: err instanceof Error ? err.message : String(err) }
  } finally {
    clearTimeout(timer)
    inFlight.delete(controller)
  }
}
