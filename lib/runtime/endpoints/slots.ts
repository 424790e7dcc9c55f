// Each endpoint's share of the attempt slots on this instance (SPEC 9.3, fairness): at most
// `maxInFlightPerEndpoint` attempts in flight per endpoint, the rest queued in order. A slow
// endpoint's deliveries wait durably instead of in memory (no attempt used): the read path's
// always, since a batch commits only when its last delivery ends, so the retry worker sends them;
// re-deliveries when the wait for a slot would be long. A slow endpoint holds its slots and
// nothing else; its attempts already running when it turned slow are handed over by the executor.
import type { ActionOutcome } from '../../actions/types.js'
import { Fifo } from '../primitives/fifo.js'
import { notAttempted } from './circuit.js'

/** An endpoint whose attempts take this long, or that freed no slot for this long while full, is slow. */
export const SLOW_MS = 500
/** A re-delivery queued for longer than this for a slow endpoint's slot waits durably instead. */
export const SATURATED_WAIT_MS = 1000
/** How far ahead what waits for a slow endpoint is spread (beyond, it is looked at again then). */
export const MAX_SPREAD_MS = 30_000

interface Waiting {
  start: () => void
  /** the delivery waits durably instead, with this outcome */
  refuse: (outcome: ActionOutcome) => void
  /** from the read path (its batch waits for it) rather than a re-delivery */
  readPath: boolean
}

const isReadPath = (waiting: Waiting): boolean => waiting.readPath

/** One endpoint's slots on this instance: attempts in flight, those queued, and how long one takes. */
class Lane {
  inFlight = 0
  readonly queue = new Fifo<Waiting>()
  /** moving average of an attempt's duration, in ms, and the last one's */
  averageMs = 0
  lastMs = 0
  /** when the lane last became full or freed a slot while full */
  busySince = 0
  /** when the last delivery sent to wait durably is due: the next one is due a slot's time after it */
  nextDue = 0
  /** looks again once `holdMs` has passed with read-path deliveries queued: the reader may be waiting on them */
  watch: NodeJS.Timeout | undefined
}

export class EndpointSlots {
  private readonly lanes = new Map<string, Lane>()

  constructor (
    private readonly maxInFlight: number,
    /**
     * the longest the read path lets one delivery hold its batch: read-path deliveries queued this
     * long behind a full lane that freed no slot wait durably instead (SLOW_MS when the endpoint
     * has been answering quickly)
     */
    private readonly holdMs: number,
    private readonly now: () => number = Date.now,
    /**
     * told when an endpoint answers quickly again while deliveries sent to wait for its slots are
     * still due later: they need not wait (a cold start's first answers are slow, and what the
     * read path spilled then was spread over up to MAX_SPREAD_MS)
     */
    private readonly onRecovered: (endpoint: string) => void = () => {}
  ) {}

  inFlight (endpoint: string): number { return this.lanes.get(endpoint)?.inFlight ?? 0 }

  /**
   * Takes one of the endpoint's slots for `start` (now, or when one frees), unless the endpoint is
   * slow: then returns the outcome of an attempt not made (or later hands it to `refuse`), due
   * when a slot is expected to be free. `start` must end with `leave`.
   */
  enter (endpoint: string, readPath: boolean, start: () => void, refuse: (outcome: ActionOutcome) => void): ActionOutcome | undefined {
    let lane = this.lanes.get(endpoint)
    if (lane === undefined) this.lanes.set(endpoint, lane = new Lane())
    // a known-slow endpoint takes no delivery from the read path, even with a slot free: it would
    // hold its whole batch; re-deliveries use its slots
    const typicalMs = Math.min(lane.averageMs, lane.lastMs)
    if (readPath && typicalMs >= SLOW_MS) return this.busy(lane, endpoint, typicalMs)
    if (lane.inFlight < this.maxInFlight) {
      if (++lane.inFlight === this.maxInFlight) lane.busySince = this.now()
      start()
      return undefined
    }
    const slowMs = this.slowness(lane)
    if (readPath && slowMs >= this.spillAfterMs(lane)) {
      // what the read path queued before the endpoint turned out slow waits durably too
      this.spill(lane, endpoint, slowMs)
      return this.busy(lane, endpoint, slowMs)
    }
    if (!readPath && slowMs >= SLOW_MS && this.waitMs(lane, slowMs) > SATURATED_WAIT_MS) return this.busy(lane, endpoint, slowMs)
    lane.queue.push({ start, refuse, readPath })
    if (readPath) this.watch(lane, endpoint)
    return undefined
  }

  /** A full lane with read-path deliveries queued is looked at again in `holdMs`, when no new delivery may come to trigger it. */
  private watch (lane: Lane, endpoint: string): void {
    if (lane.watch !== undefined) return
    lane.watch = setTimeout(() => {
      lane.watch = undefined
      if (lane.queue.size === 0) return
      const slowMs = this.slowness(lane)
      if (slowMs >= this.spillAfterMs(lane)) this.spill(lane, endpoint, slowMs)
      if (lane.queue.some(isReadPath)) this.watch(lane, endpoint)
    }, this.holdMs)
    lane.watch.unref()
  }

  /** The slot's attempt is over (it took `attemptMs`; undefined when none was made): the slot goes to the oldest queued one. */
  leave (endpoint: string, attemptMs: number | undefined): void {
    const lane = this.lanes.get(endpoint)
    if (lane === undefined) return
    if (attemptMs !== undefined) {
      lane.averageMs = lane.averageMs === 0 ? attemptMs : lane.averageMs * 0.8 + attemptMs * 0.2
      lane.lastMs = attemptMs
      if (attemptMs < SLOW_MS && lane.nextDue > this.now()) {
        lane.nextDue = 0
        this.onRecovered(endpoint)
      }
    }
    const next = lane.queue.shift()
    if (next === undefined) {
      lane.inFlight--
      return
    }
    lane.busySince = this.now()
    if (lane.queue.size === 0) {
      clearTimeout(lane.watch)
      lane.watch = undefined
    }
    next.start()
  }

  /**
   * How long a full lane may free no slot before the read path's queue waits durably: `holdMs` for
   * an endpoint known to take that long, SLOW_MS for one that answered quickly so far or has not
   * answered yet. Moving a queue to the database over a stall of this process or of the endpoint
   * costs far more than the stall, and a cold start (connections opening, the JIT warming up) is
   * such a stall: its first answers spilled thousands of deliveries in the scaleout bench.
   */
  private spillAfterMs (lane: Lane): number {
    return lane.averageMs >= this.holdMs ? this.holdMs : SLOW_MS
  }

  /** How slow the endpoint is now, in ms per attempt: slow on average and still slow, or (full) stuck for that long. */
  private slowness (lane: Lane): number {
    return Math.max(Math.min(lane.averageMs, lane.lastMs), this.now() - lane.busySince)
  }

  private waitMs (lane: Lane, slowMs: number): number {
    return ((lane.queue.size + 1) / this.maxInFlight) * slowMs
  }

  /**
   * Waits durably, due when a slot should be free for it: what waits is spread over the time the
   * endpoint takes to answer it, `maxInFlight` at a time, so the retry worker does not take up
   * (and put back) more than the endpoint can answer.
   */
  private busy (lane: Lane, endpoint: string, slowMs: number): ActionOutcome {
    const now = this.now()
    lane.nextDue = Math.min(Math.max(lane.nextDue + slowMs / this.maxInFlight, now + this.waitMs(lane, slowMs)), now + MAX_SPREAD_MS)
    return notAttempted('busy', endpoint, new Date(lane.nextDue))
  }

  private spill (lane: Lane, endpoint: string, slowMs: number): void {
    if (!lane.queue.some(isReadPath)) return
    const refused = lane.queue.take(isReadPath)
    const outcome = this.busy(lane, endpoint, slowMs)
    for (const waiting of refused) waiting.refuse(outcome)
  }
}
