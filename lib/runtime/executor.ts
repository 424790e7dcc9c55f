// Runs one attempt of one delivery: validates the config, bounds the time, never throws.
import type { ActionContext, ActionOutcome, ActionServices } from '../actions/types.js'
import type { ActionRegistry } from '../actions/registry.js'
import { Cancellation, timeoutError } from '../actions/cancellation.js'
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

// runAttempt and attempt are not async functions: each async layer is a promise and a microtask
// more per delivery.
export function runAttempt (delivery: Delivery, registry: ActionRegistry, services: ActionServices, inFlight: InFlightAttempts): Promise<AttemptResult> {
  const startedAt = new Date()
  const start = performance.now()
  let outcome: Promise<ActionOutcome>
  try {
    outcome = attempt(delivery, registry, services, inFlight)
  } catch (err) {
    // never throws, not even synchronously: the batch waits for every one of its attempts
    outcome = Promise.resolve(exception(err))
  }
  return outcome.then((outcome) => ({ delivery, outcome, startedAt, durationMs: Math.round(performance.now() - start) }))
}

const exception = (err: unknown): ActionOutcome =>
  ({ ok: false, kind: 'transient', code: 'EXCEPTION', message: err instanceof Error ? err.message : String(err) })

/** One attempt in flight: its deadline, how to cancel it and how to end it (once). */
class Running {
  next: Running | undefined = undefined
  done = false

  constructor (
    readonly deadline: number,
    readonly cancellation: Cancellation,
    private readonly queue: DeadlineQueue,
    private readonly resolve: (outcome: ActionOutcome) => void
  ) {}

  end (outcome: ActionOutcome): void {
    if (this.done) return
    this.done = true
    this.queue.dropFinished()
    this.resolve(outcome)
  }
}

/** The attempts started with one timeout, oldest first: their deadlines come in the same order. */
class DeadlineQueue {
  head: Running | undefined = undefined
  tail: Running | undefined = undefined
  private timer: NodeJS.Timeout | undefined = undefined

  constructor (readonly timeoutMs: number) {}

  add (running: Running): void {
    if (this.tail === undefined) this.head = running
    else this.tail.next = running
    this.tail = running
    if (this.timer === undefined) this.arm(running.deadline)
  }

  /** Finished attempts leave as they reach the head (they finish roughly in order). */
  dropFinished (): void {
    let head = this.head
    while (head !== undefined && head.done) {
      const next = head.next
      head.next = undefined
      head = next
    }
    this.head = head
    if (head === undefined) {
      this.tail = undefined
      // nothing in flight: nothing to keep the process up for
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  private arm (deadline: number): void {
    this.timer = setTimeout(() => { this.expire() }, Math.max(0, deadline - performance.now()))
  }

  private expire (): void {
    this.timer = undefined
    const now = performance.now()
    for (let head = this.head; head !== undefined && head.deadline <= now; head = this.head) {
      // the action should honour the cancellation; ending the attempt here bounds it even when it does not
      head.cancellation.cancel(timeoutError(this.timeoutMs))
      head.end({ ok: false, kind: 'transient', code: 'TIMEOUT', message: `no answer within ${this.timeoutMs} ms`, timedOut: true })
    }
    if (this.head !== undefined && this.timer === undefined) this.arm(this.head.deadline)
  }
}

/**
 * The attempts in flight and their deadlines, without a timer or a signal listener per attempt:
 * each timeout value keeps a FIFO of its attempts and one timer armed for the oldest unfinished
 * one. A shutdown's drain deadline interrupts them all.
 */
export class InFlightAttempts {
  private readonly queues = new Map<number, DeadlineQueue>()
  /** set at the drain deadline: what fails from now on was interrupted, not refused */
  interrupted = false

  start (timeoutMs: number, cancellation: Cancellation, resolve: (outcome: ActionOutcome) => void): Running {
    let queue = this.queues.get(timeoutMs)
    if (queue === undefined) {
      queue = new DeadlineQueue(timeoutMs)
      this.queues.set(timeoutMs, queue)
    }
    const running = new Running(performance.now() + timeoutMs, cancellation, queue, resolve)
    queue.add(running)
    return running
  }

  interruptAll (reason: Error): void {
    this.interrupted = true
    const pending: Running[] = []
    for (const queue of this.queues.values()) {
      for (let r = queue.head; r !== undefined; r = r.next) if (!r.done) pending.push(r)
    }
    for (const running of pending) {
      running.cancellation.cancel(reason)
      running.end(CANCELLED)
    }
  }

  reset (): void { this.interrupted = false }
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
    readonly cancellation: Cancellation
  ) {}

  get signal (): AbortSignal { return this.cancellation.signal }
}

function attempt (delivery: Delivery, registry: ActionRegistry, services: ActionServices, inFlight: InFlightAttempts): Promise<ActionOutcome> {
  const { action, observer, actionIndex } = delivery
  const definition = registry.get(action.type)
  if (definition === undefined) return Promise.resolve(permanent('CONFIG', `unknown action type '${action.type}'`))
  const problem = registry.validate(action, actionIndex)
  if (problem !== null) return Promise.resolve(permanent('CONFIG', problem))
  const timeoutMs = typeof action.timeout_ms === 'number' ? action.timeout_ms : observer.timeout_ms
  if (inFlight.interrupted) return Promise.resolve(CANCELLED)
  const cancellation = new Cancellation()
  const ctx = new AttemptContext({ id: observer.id, name: observer.name }, actionIndex, delivery.attempt,
    idempotencyKey(delivery.event.event_id, observer.id, actionIndex), timeoutMs, services, cancellation)
  return new Promise<ActionOutcome>((resolve) => {
    const running = inFlight.start(timeoutMs, cancellation, resolve)
    const failed = (err: unknown): void => { running.end(inFlight.interrupted ? CANCELLED : exception(err)) }
    try {
      definition.run(toEnvelope(delivery.event, observer), action, ctx).then(
        (outcome) => { running.end(!outcome.ok && inFlight.interrupted ? CANCELLED : outcome) },
        failed
      )
    } catch (err) {
      failed(err)
    }
  })
}
