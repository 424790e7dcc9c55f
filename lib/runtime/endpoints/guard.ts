// Endpoint protection around each attempt (SPEC 9.3): one call waits for the endpoint's rate
// limit, takes one of its slots, consults its circuit and pause, runs the attempt, and hands its
// outcome to the circuits; or says why the delivery waits instead, and until when. The shared
// state (tb_observer_endpoint) is cached in states.ts; the gate is circuit.ts's, the slots
// slots.ts's, the rate rate.ts's, what an outcome does to the circuit circuits.ts's.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { ActionOutcome } from '../../actions/types.js'
import { claimProbe, slotWaitsDue, type EndpointRow } from '../../db/endpoints.repo.js'
import type { Database } from '../../db/types.js'
import { endpointUsers, type EndpointUsers, type RateLimit } from './users.js'
import { busyMessage, gate, notAttempted, type CircuitBreakerOptions } from './circuit.js'
import { EndpointCircuits } from './circuits.js'
import { EndpointRates, type Origin } from './rate.js'
import { EndpointSlots } from './slots.js'
import { EndpointStates } from './states.js'

interface Admission { refused?: ActionOutcome, probe: boolean }

const GO: Admission = Object.freeze({ probe: false })
const PROBE: Admission = Object.freeze({ probe: true })

/** How long past its deadline a probe's instance has to record its verdict before the probe is given up on. */
const PROBE_SLACK_MS = 1000

/** What an attempt reports back to the guard. */
export interface Attempted { outcome: ActionOutcome, durationMs: number }

/**
 * How a guarded attempt ended: `made` (its outcome recorded), `notMade` (the delivery waits, with
 * no attempt used), or `broken` (the guard's own bookkeeping threw; `made` when the attempt ran).
 */
export type Guarded<R extends Attempted> = { made: R } | { notMade: ActionOutcome } | { broken: unknown, made?: R }

export class EndpointGuard {
  private readonly states: EndpointStates
  /** the circuits' decisions: each outcome counted, circuits opened and closed, endpoints disabled */
  readonly circuits: EndpointCircuits
  private readonly slots: EndpointSlots
  private readonly rates: EndpointRates
  private users: EndpointUsers = endpointUsers([], () => null)

  constructor (
    private readonly db: Kysely<Database>,
    private readonly log: FastifyBaseLogger,
    private readonly options: CircuitBreakerOptions | false,
    maxInFlight: number,
    /** the longest a read-path delivery may wait for a slot before it waits durably instead */
    holdMs: number,
    private readonly now: () => number = Date.now
  ) {
    this.states = new EndpointStates(db, log)
    this.slots = new EndpointSlots(maxInFlight, holdMs, now, (endpoint) => { this.slotWaitsDue(endpoint) })
    this.rates = new EndpointRates(db, holdMs, now)
    this.circuits = new EndpointCircuits(db, log, options, this.states, (endpoint) => this.users.observersOf(endpoint), now)
  }

  /** Told once deliveries that waited for an endpoint's slots were made due (the retry worker wakes). */
  onWaitsDue: () => void = () => {}

  /** The endpoint answers quickly again: what waits in the database for its slots goes now, not at its spread-out time. */
  private slotWaitsDue (endpoint: string): void {
    slotWaitsDue(this.db, endpoint, busyMessage(endpoint)).then((due) => {
      if (due > 0) this.onWaitsDue()
    }, (err: unknown) => {
      // they go at their time anyway
      this.log.warn({ err, endpoint }, 'making the deliveries that waited for an endpoint\'s slots due failed')
    })
  }

  /** The observers and rate limits per endpoint, after every reload of the observers. */
  setUsers (users: EndpointUsers): void { this.users = users }

  observersOf (endpoint: string): readonly string[] { return this.users.observersOf(endpoint) }

  rateLimitOf (endpoint: string): RateLimit | undefined { return this.users.rateLimitOf(endpoint) }

  /** Reloads the shared state (at start, on an announced change, periodically). */
  async refresh (): Promise<void> { await this.states.refresh() }

  state (endpoint: string): EndpointRow | undefined { return this.states.get(endpoint) }

  /** Every endpoint known here: with a shared state, or used by a loaded observer. */
  endpoints (): string[] { return [...new Set([...this.states.keys(), ...this.users.endpoints()])].sort() }

  /** A shutdown's drain deadline: waits for a rate slot end, the deliveries wait durably. */
  interrupt (): void { this.rates.interrupt() }

  resume (): void { this.rates.resume() }

  inFlight (endpoint: string): number { return this.slots.inFlight(endpoint) }

  /**
   * Runs one attempt to `endpoint` under its protection and calls `end` once with how it ended.
   * `attempt` is started in one of the endpoint's slots, once the rate limit, the circuit and a
   * pause let it go, and must call `finish` once; `timeoutMs` bounds it (a probe is given up on
   * after it). Callbacks, not promises: every delivery to an endpoint comes through here.
   */
  attempt<R extends Attempted> (endpoint: string, origin: Origin, timeoutMs: number, attempt: (finish: (result: R) => void) => void, end: (ended: Guarded<R>) => void): void {
    if (!this.states.loaded) return this.afterLoad(endpoint, () => { this.attempt(endpoint, origin, timeoutMs, attempt, end) }, end)
    const limit = this.users.rateLimitOf(endpoint)
    if (limit === undefined) return this.enter(endpoint, origin, timeoutMs, attempt, end)
    // the circuit first: a delivery it turns away takes no slot of the rate
    const decision = gate(this.options === false ? this.pausedOnly(endpoint) : this.states.get(endpoint), this.now())
    if (!decision.go) return end({ notMade: notAttempted(decision.reason, endpoint, decision.until) })
    this.rates.take(endpoint, limit, origin).then((waits) => {
      if (waits === undefined) this.enter(endpoint, origin, timeoutMs, attempt, end)
      else end({ notMade: waits })
    }, (err: unknown) => { this.unavailable(err, endpoint, end) })
  }

  /** A first attempt before the shared state was read (a restart during an outage): it goes once it is known. */
  private afterLoad<R extends Attempted> (endpoint: string, then: () => void, end: (ended: Guarded<R>) => void): void {
    this.states.load().then(then, (err: unknown) => { this.unavailable(err, endpoint, end) })
  }

  /** The shared state is out of reach: wait a little rather than send unguarded. */
  private unavailable<R extends Attempted> (err: unknown, endpoint: string, end: (ended: Guarded<R>) => void): void {
    this.log.warn({ err, endpoint }, 'endpoint state unavailable; the attempt waits')
    end({ notMade: notAttempted('busy', endpoint, new Date(this.now() + 1000)) })
  }

  private enter<R extends Attempted> (endpoint: string, origin: Origin, timeoutMs: number, attempt: (finish: (result: R) => void) => void, end: (ended: Guarded<R>) => void): void {
    const refused = this.slots.enter(endpoint, origin === 'change_log', () => { this.inSlot(endpoint, timeoutMs, attempt, end) }, (notMade) => { end({ notMade }) })
    if (refused !== undefined) end({ notMade: refused })
  }

  private inSlot<R extends Attempted> (endpoint: string, timeoutMs: number, attempt: (finish: (result: R) => void) => void, end: (ended: Guarded<R>) => void): void {
    const leave = (attemptMs: number | undefined, ended: Guarded<R>): void => {
      try {
        this.leave(endpoint, attemptMs)
      } catch (broken) {
        ended = { broken, made: 'made' in ended ? ended.made : undefined }
      }
      end(ended)
    }
    const go = ({ refused, probe }: Admission): void => {
      if (refused !== undefined) return leave(undefined, { notMade: refused })
      attempt((made) => {
        let ended: Guarded<R> = { made }
        try {
          this.circuits.record(endpoint, made.outcome, probe)
        } catch (broken) {
          ended = { broken, made }
        }
        leave(made.durationMs, ended)
      })
    }
    let admitted: Admission | Promise<Admission>
    try {
      admitted = this.admit(endpoint, timeoutMs)
    } catch (broken) {
      return leave(undefined, { broken })
    }
    if (admitted instanceof Promise) admitted.then(go, (broken: unknown) => { leave(undefined, { broken }) })
    else go(admitted)
  }

  /** The slot's attempt is over (it took `attemptMs`, undefined when none was made). */
  private leave (endpoint: string, attemptMs: number | undefined): void { this.slots.leave(endpoint, attemptMs) }

  /**
   * May an attempt go now? If not, `refused` is the outcome of an attempt not made; `probe` is set
   * when this attempt is the circuit's probe. Synchronous but for a probe's claim: the common case
   * costs one lookup.
   */
  private admit (endpoint: string, timeoutMs: number): Admission | Promise<Admission> {
    const state = this.states.get(endpoint)
    if (state === undefined) return GO
    const decision = gate(this.options === false ? this.pausedOnly(endpoint) : state, this.now())
    if (!decision.go) return { refused: notAttempted(decision.reason, endpoint, decision.until), probe: false }
    if (!decision.probe || this.options === false) return GO
    // the probe is given up on once it cannot be running any more: after its deadline, or the cool-down
    const probeMs = timeoutMs + PROBE_SLACK_MS
    // this instance's other attempts wait for the probe's verdict instead of claiming it too
    const giveUpAt = new Date(this.now() + Math.max(state.cool_down_ms, probeMs))
    this.states.remember(endpoint, (s) => ({ ...s, state: 'half_open', next_probe_at: giveUpAt }))
    // one probe for every instance: whoever claims it sends; the others wait for its verdict
    return claimProbe(this.db, endpoint, probeMs).then(({ claimed, nextProbeAt }): Admission => claimed
      ? PROBE
      : { refused: notAttempted('probing', endpoint, nextProbeAt ?? giveUpAt), probe: false }, (err: unknown) => {
      // the shared state is out of reach: wait a little rather than send unguarded
      this.log.warn({ err, endpoint }, 'endpoint state unavailable; the attempt waits')
      return { refused: notAttempted('busy', endpoint, new Date(this.now() + 1000)), probe: false }
    })
  }

  /** A circuit breaker turned off still honours a 429's pause. */
  private pausedOnly (endpoint: string): EndpointRow | undefined {
    const state = this.states.get(endpoint)
    return state === undefined ? undefined : { ...state, state: 'closed' }
  }
}
