// Each endpoint's share of the attempt slots on this instance (SPEC 9.3, fairness): at most
// `maxInFlightPerEndpoint` attempts in flight per endpoint, the rest queued in order, and a slow
// endpoint's long queue turned into durable waits so its batches commit and the reader moves on.
import type { ActionOutcome } from '../actions/types.js'
import { notAttempted } from './circuit.js'

/**
 * A delivery to a slow endpoint (attempts of SLOW_MS or more) that would wait longer than
 * SATURATED_WAIT_MS for one of its slots waits durably instead, with no attempt used, so its batch
 * commits and the reader moves on. A fast endpoint's queue drains quickly and is never deferred.
 */
export const SLOW_MS = 500
export const SATURATED_WAIT_MS = 1000

/** One endpoint's slots on this instance: attempts in flight, those queued, and how long one takes. */
class Lane {
  inFlight = 0
  readonly queue: Array<() => void> = []
  head = 0
  /** moving average of an attempt's duration, in ms, and the last one's */
  averageMs = 0
  lastMs = 0
}

export class EndpointSlots {
  private readonly lanes = new Map<string, Lane>()

  constructor (private readonly maxInFlight: number, private readonly now: () => number = Date.now) {}

  inFlight (endpoint: string): number { return this.lanes.get(endpoint)?.inFlight ?? 0 }

  /**
   * Takes one of the endpoint's `maxInFlightPerEndpoint` slots for `start` (now, or when one
   * frees), unless the wait would be long: then returns the outcome of an attempt not made, due
   * when a slot is expected to be free. `start` must end with `leave`.
   */
  enter (endpoint: string, start: () => void): ActionOutcome | undefined {
    let lane = this.lanes.get(endpoint)
    if (lane === undefined) this.lanes.set(endpoint, lane = new Lane())
    if (lane.inFlight < this.maxInFlight) {
      lane.inFlight++
      start()
      return undefined
    }
    // slow on average and still slow: one stall (answers held, then released) does not make it slow
    const typicalMs = Math.min(lane.averageMs, lane.lastMs)
    if (typicalMs >= SLOW_MS) {
      const waitMs = ((lane.queue.length - lane.head + 1) / this.maxInFlight) * typicalMs
      if (waitMs > SATURATED_WAIT_MS) return notAttempted('busy', endpoint, new Date(this.now() + waitMs))
    }
    lane.queue.push(start)
    return undefined
  }

  /** The slot's attempt is over (it took `attemptMs`; undefined when none was made): the slot goes to the oldest queued one. */
  leave (endpoint: string, attemptMs: number | undefined): void {
    const lane = this.lanes.get(endpoint)
    if (lane === undefined) return
    if (attemptMs !== undefined) {
      lane.averageMs = lane.averageMs === 0 ? attemptMs : lane.averageMs * 0.8 + attemptMs * 0.2
      lane.lastMs = attemptMs
    }
    if (lane.head < lane.queue.length) {
      const next = lane.queue[lane.head]
      lane.queue[lane.head++] = undefined as unknown as () => void
      if (lane.head === lane.queue.length) {
        lane.queue.length = 0
        lane.head = 0
      }
      next()
    } else {
      lane.inFlight--
    }
  }
}
