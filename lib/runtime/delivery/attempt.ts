// One attempt of one delivery: its trace, its context, its deadline (deadlines.ts) and the
// registry's run, the one way to run any action. Ends in an outcome however it goes.
import { context } from '@opentelemetry/api'
import type { FastifyBaseLogger } from 'fastify'
import type { ActionRegistry } from '../../actions/registry.js'
import type { ActionContext, ActionOutcome, ActionServices } from '../../actions/types.js'
import { Cancellation } from '../../actions/cancellation.js'
import { CANCELLED, type InFlightAttempts, type Running } from './deadlines.js'
import { idempotencyKey, type Delivery } from './delivery.js'
import { endDeliveryTrace, startDeliveryTrace, type DeliveryTrace } from './trace.js'
import { toEnvelope } from './event.js'

/** How one attempt of one delivery ended. */
export interface AttemptResult {
  delivery: Delivery
  outcome: ActionOutcome
  startedAt: Date
  durationMs: number
  /** the endpoint (origin) it went to, when its action has one: its retries wait for the endpoint's circuit */
  endpoint?: string
  /** the `traceparent` the attempt's retries continue when the event carried no trace */
  trace?: { readonly started: string | undefined }
  /** handed over while still running (the executor): the attempt's real end, settled by stored/handover.ts */
  detached?: Promise<AttemptResult>
  /** a handed-over attempt's claim token: the retry row that holds it carries it until its end is committed */
  claim?: string
}

/** What an action sees of its attempt; the AbortSignal is only made if the action reads it. */
class AttemptContext implements ActionContext {
  constructor (
    readonly observer: { id: string, name: string },
    readonly actionIndex: number,
    readonly attempt: number,
    readonly idempotencyKey: string,
    readonly timeoutMs: number,
    readonly services: ActionServices,
    readonly cancellation: Cancellation,
    readonly trace: DeliveryTrace
  ) {}

  get signal (): AbortSignal { return this.cancellation.signal }
}

export const timeoutOf = ({ action, observer }: Delivery): number => typeof action.timeout_ms === 'number' ? action.timeout_ms : observer.timeout_ms

export const exception = (err: unknown): ActionOutcome =>
  ({ ok: false, kind: 'transient', code: 'EXCEPTION', message: err instanceof Error ? err.message : String(err) })

export interface AttemptDeps {
  registry: ActionRegistry
  inFlight: InFlightAttempts
  log?: FastifyBaseLogger
}

/**
 * Runs one attempt now and calls `done` once with its result: a throw, a rejection, its deadline
 * and a shutdown all end as outcomes. Callbacks, not promises: every delivery comes through here.
 */
export function runAttempt ({ registry, inFlight, log }: AttemptDeps, delivery: Delivery, onStart: (() => void) | undefined, done: (result: AttemptResult) => void): void {
  onStart?.()
  const startedAt = new Date()
  const start = performance.now()
  let trace: DeliveryTrace | undefined
  // called from a promise's callback or a deadline's timer: nothing may escape from it
  const end = (outcome: ActionOutcome): void => {
    try {
      if (trace !== undefined) endDeliveryTrace(trace, outcome)
    } catch (err) {
      log?.warn({ err, observer_id: delivery.observer.id, event_id: delivery.event.event_id }, 'ending the attempt\'s span failed')
    }
    try {
      done({ delivery, outcome, startedAt, durationMs: Math.round(performance.now() - start), trace })
    } catch (err) {
      log?.error({ err, observer_id: delivery.observer.id, event_id: delivery.event.event_id }, 'recording an attempt\'s end failed')
    }
  }
  const thrown = (running: Running, err: unknown): void => { running.end(inFlight.interrupted ? CANCELLED : exception(err)) }
  let running: Running | undefined
  let ran: Promise<ActionOutcome>
  try {
    trace = startDeliveryTrace(delivery)
    if (inFlight.interrupted) return end(CANCELLED)
    const { action, observer, actionIndex } = delivery
    const timeoutMs = timeoutOf(delivery)
    const cancellation = new Cancellation()
    const ctx = new AttemptContext({ id: observer.id, name: observer.name }, actionIndex, delivery.attempt,
      idempotencyKey(delivery.event.event_id, observer.id, actionIndex), timeoutMs, registry.services, cancellation, trace)
    const envelope = toEnvelope(delivery.event, observer)
    running = inFlight.start(timeoutMs, cancellation, end)
    const parent = trace.context
    // with an SDK, custom actions' own spans become children of the attempt's
    ran = parent === undefined
      ? registry.run(envelope, action, ctx)
      : context.with(parent, () => registry.run(envelope, action, ctx))
  } catch (err) {
    // not even a synchronous throw escapes: a batch waits for every one of its attempts
    if (running === undefined) end(exception(err))
    else thrown(running, err)
    return
  }
  ran.then((outcome) => { running.end(!outcome.ok && inFlight.interrupted ? CANCELLED : outcome) }, (err: unknown) => { thrown(running, err) })
}
