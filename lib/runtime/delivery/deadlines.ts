// The attempts in flight and their deadlines, without a timer or a signal listener per attempt:
// each timeout value keeps a FIFO of its attempts (their deadlines come in the order they started)
// and one timer armed for the oldest unfinished one. A shutdown's drain deadline interrupts them all.
import type { ActionOutcome } from '../../actions/types.js'
import { timeoutError, type Cancellation } from '../../actions/cancellation.js'

/** Interrupted by shutdown: not an attempt that counts; it is rescheduled as it was. */
export const CANCELLED: ActionOutcome = Object.freeze({ ok: false, kind: 'transient', code: 'CANCELLED', message: 'interrupted by shutdown; rescheduled' })

/** One attempt in flight: its deadline, how to cancel it and how to end it (once). */
export class Running {
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
