// Endpoint protection around each attempt (SPEC 9.3): one call takes one of the endpoint's slots,
// consults its circuit, pause and rate limit, runs the attempt, and feeds its outcome to the
// endpoint's window; or says why the delivery waits instead, and until when. The shared state
// (tb_observer_endpoint) is cached here and reloaded when an instance announces a change; the
// decisions are circuit.ts's, the slots slots.ts's.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { ActionOutcome } from '../../actions/types.js'
import { claimProbe, closeCircuit, disableEndpoints, loadEndpoints, openCircuit, pauseEndpoint, probeFailed, reserveRate } from '../../db/endpoints.repo.js'
import type { Database } from '../../db/types.js'
import type { EndpointState } from '../../model.js'
import { endpointUsers, type EndpointUsers, type RateLimit } from './users.js'
import { RollingWindow, gate, nextCoolDown, notAttempted, shouldOpen, type CircuitBreakerOptions } from './circuit.js'
import { EndpointSlots } from './slots.js'

interface Admission { refused?: ActionOutcome, probe: boolean }

const GO: Admission = Object.freeze({ probe: false })

/** What an attempt reports back to the guard. */
export interface Attempted { outcome: ActionOutcome, durationMs: number }

/**
 * How a guarded attempt ended: `made` (its outcome recorded), `notMade` (the delivery waits, with
 * no attempt used), or `broken` (the guard's own bookkeeping threw; `made` when the attempt ran).
 */
export type Guarded<R extends Attempted> = { made: R } | { notMade: ActionOutcome } | { broken: unknown, made?: R }

export class EndpointGuard {
  private states = new Map<string, EndpointState>()
  private readonly windows = new Map<string, RollingWindow>()
  private readonly opening = new Set<string>()
  private readonly slots: EndpointSlots
  /** local changes, numbered, so a refresh read before one does not undo it; and the writes not done yet */
  private changes = 0
  private readonly changedAt = new Map<string, number>()
  private readonly writing = new Map<string, number>()
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
    this.slots = new EndpointSlots(maxInFlight, holdMs, now)
  }

  /** The observers and rate limits per endpoint, after every reload of the observers. */
  setUsers (users: EndpointUsers): void { this.users = users }

  observersOf (endpoint: string): readonly string[] { return this.users.observersOf(endpoint) }

  rateLimitOf (endpoint: string): RateLimit | undefined { return this.users.rateLimitOf(endpoint) }

  /** Reloads the shared state (at start, on an announced change, periodically). */
  async refresh (): Promise<void> {
    const since = this.changes
    const next = new Map((await loadEndpoints(this.db)).map((s) => [s.endpoint, s]))
    // what this instance decided after the read began, or has not written yet, is newer than the read
    for (const [endpoint, at] of this.changedAt) {
      if (at <= since && (this.writing.get(endpoint) ?? 0) === 0) continue
      const local = this.states.get(endpoint)
      if (local === undefined) next.delete(endpoint)
      else next.set(endpoint, local)
    }
    this.states = next
  }

  state (endpoint: string): EndpointState | undefined { return this.states.get(endpoint) }

  /** Every endpoint known here: with a shared state, or used by a loaded observer. */
  endpoints (): string[] { return [...new Set([...this.states.keys(), ...this.users.endpoints()])].sort() }

  /** Whether a circuit is open somewhere (only then can one be overdue for disabling). */
  anyOpen (): boolean {
    for (const s of this.states.values()) if (s.state === 'open' || s.state === 'half_open') return true
    return false
  }

  /** An operator reset the endpoint: this instance's window starts afresh. */
  forget (endpoint: string): void {
    this.windows.delete(endpoint)
    this.states.delete(endpoint)
  }

  window (endpoint: string): { attempts: number, failures: number } {
    return this.windows.get(endpoint)?.counts(this.now()) ?? { attempts: 0, failures: 0 }
  }

  inFlight (endpoint: string): number { return this.slots.inFlight(endpoint) }

  /**
   * Runs one attempt to `endpoint` under its protection and calls `end` once with how it ended.
   * `attempt` is started in one of the endpoint's slots, once the circuit, a pause and the rate
   * limit let it go, and must call `finish` once. Callbacks, not promises: every delivery to an
   * endpoint comes through here.
   */
  attempt<R extends Attempted> (endpoint: string, readPath: boolean, attempt: (finish: (result: R) => void) => void, end: (ended: Guarded<R>) => void): void {
    const refused = this.slots.enter(endpoint, readPath, () => { this.inSlot(endpoint, attempt, end) }, (notMade) => { end({ notMade }) })
    if (refused !== undefined) end({ notMade: refused })
  }

  private inSlot<R extends Attempted> (endpoint: string, attempt: (finish: (result: R) => void) => void, end: (ended: Guarded<R>) => void): void {
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
          this.record(endpoint, made.outcome, probe)
        } catch (broken) {
          ended = { broken, made }
        }
        leave(made.durationMs, ended)
      })
    }
    let admitted: Admission | Promise<Admission>
    try {
      admitted = this.admit(endpoint)
    } catch (broken) {
      return leave(undefined, { broken })
    }
    if (admitted instanceof Promise) admitted.then(go, (broken: unknown) => { leave(undefined, { broken }) })
    else go(admitted)
  }

  /** The slot's attempt is over (it took `attemptMs`, undefined when none was made). */
  private leave (endpoint: string, attemptMs: number | undefined): void { this.slots.leave(endpoint, attemptMs) }

  /**
   * May an attempt go now (after waiting for its rate-limit slot, if any)? If not, `refused` is the
   * outcome of an attempt not made; `probe` is set when this attempt is the circuit's probe.
   * Synchronous for an endpoint with no state and no rate limit: the common case costs two lookups.
   */
  private admit (endpoint: string): Admission | Promise<Admission> {
    const state = this.states.get(endpoint)
    const limit = this.users.rateLimitOf(endpoint)
    if (state === undefined && limit === undefined) return GO
    const decision = gate(this.options === false ? this.pausedOnly(endpoint) : state, this.now())
    if (!decision.go) return { refused: notAttempted(decision.reason, endpoint, decision.until), probe: false }
    if (!decision.probe && limit === undefined) return GO
    if (decision.probe && this.options !== false) {
      // this instance's other attempts wait for the probe's verdict instead of claiming it too
      const probeMs = this.options.coolDownMs
      this.remember(endpoint, (s) => ({ ...s, state: 'half_open', next_probe_at: new Date(this.now() + probeMs) }))
    }
    return this.admitSlowly(endpoint, decision.probe, limit).catch((err: unknown) => {
      // the shared state is out of reach: wait a little rather than send unguarded
      this.log.warn({ err, endpoint }, 'endpoint state unavailable; the attempt waits')
      return { refused: notAttempted('busy', endpoint, new Date(this.now() + 1000)), probe: false }
    })
  }

  private async admitSlowly (endpoint: string, probe: boolean, limit: RateLimit | undefined): Promise<Admission> {
    if (probe && this.options !== false) {
      // one probe for every instance: whoever claims it sends; the others wait for its verdict
      if (!await claimProbe(this.db, endpoint, this.options.coolDownMs)) {
        return { refused: notAttempted('probing', endpoint, new Date(this.now() + this.options.coolDownMs)), probe: false }
      }
    }
    if (limit !== undefined) await this.waitForRate(endpoint, limit)
    return { probe }
  }

  /** A circuit breaker turned off still honours a 429's pause. */
  private pausedOnly (endpoint: string): EndpointState | undefined {
    const state = this.states.get(endpoint)
    return state === undefined ? undefined : { ...state, state: 'closed' }
  }

  private async waitForRate (endpoint: string, { per_second: perSecond, burst }: RateLimit): Promise<void> {
    const interval = 1000 / perSecond
    const { tat, now } = await reserveRate(this.db, endpoint, interval, 1)
    // GCRA: the slot starts one interval before the clock it moved, less the burst allowance
    const wait = tat - interval - (burst - 1) * interval - now
    if (wait > 0) await sleep(wait, undefined, { ref: false })
  }

  /** Feeds an attempt's outcome to the endpoint's window and circuit. */
  private record (endpoint: string, outcome: ActionOutcome, probe: boolean): void {
    const failed = !outcome.ok && outcome.kind === 'transient' && outcome.code !== 'CANCELLED'
    if (!outcome.ok && outcome.statusCode === 429 && outcome.retryAfterMs !== undefined) {
      const until = this.now() + outcome.retryAfterMs
      this.remember(endpoint, (s) => ({ ...s, paused_until: new Date(until) }))
      this.background(pauseEndpoint(this.db, endpoint, until), endpoint, 'pausing')
    }
    if (this.options === false) return
    const options = this.options
    if (probe) {
      const current = this.states.get(endpoint)
      if (failed) {
        const coolDown = nextCoolDown(current?.cool_down_ms ?? options.coolDownMs, options)
        this.remember(endpoint, (s) => ({ ...s, state: 'open', cool_down_ms: coolDown, next_probe_at: new Date(this.now() + coolDown) }))
        this.background(probeFailed(this.db, endpoint, coolDown), endpoint, 'reopening')
      } else if (outcome.ok) {
        this.windows.get(endpoint)?.reset()
        this.remember(endpoint, (s) => ({ ...s, state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 0 }))
        this.background(closeCircuit(this.db, endpoint, this.users.observersOf(endpoint)).then((closed) => { if (closed) this.log.info({ endpoint }, 'endpoint recovered: circuit closed, what waited goes out') }), endpoint, 'closing')
      }
      return
    }
    let window = this.windows.get(endpoint)
    if (window === undefined) this.windows.set(endpoint, window = new RollingWindow(options.windowMs))
    window.record(this.now(), failed)
    if (!failed || this.opening.has(endpoint) || (this.states.get(endpoint)?.state ?? 'closed') !== 'closed') return
    if (!shouldOpen(window.counts(this.now()), options)) return
    this.opening.add(endpoint)
    this.remember(endpoint, (s) => ({ ...s, state: 'open', opened_at: new Date(this.now()), next_probe_at: new Date(this.now() + options.coolDownMs), cool_down_ms: options.coolDownMs }))
    this.background(openCircuit(this.db, endpoint, options.coolDownMs, this.users.observersOf(endpoint))
      .then((opened) => { if (opened) this.log.warn({ endpoint }, 'endpoint failing: circuit opened, deliveries to it wait') })
      .finally(() => { this.opening.delete(endpoint) }), endpoint, 'opening')
  }

  /** Disables the endpoints open for `disableAfterMs`; returns them. */
  async disableOverdue (): Promise<string[]> {
    if (this.options === false || !this.anyOpen()) return []
    const disabled = await disableEndpoints(this.db, this.options.disableAfterMs, (endpoint) => this.users.observersOf(endpoint))
    for (const endpoint of disabled) this.log.warn({ endpoint }, 'endpoint disabled: its circuit stayed open; its observers are disabled and what waited is dead-lettered')
    if (disabled.length > 0) await this.refresh()
    return disabled
  }

  private remember (endpoint: string, change: (state: EndpointState) => EndpointState): void {
    this.changedAt.set(endpoint, ++this.changes)
    const current = this.states.get(endpoint) ?? { endpoint, state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 0, paused_until: null }
    this.states.set(endpoint, change(current))
  }

  private background (work: Promise<unknown>, endpoint: string, what: string): void {
    this.writing.set(endpoint, (this.writing.get(endpoint) ?? 0) + 1)
    work.catch((err: unknown) => { this.log.error({ err, endpoint }, `${what} the endpoint's circuit failed`) })
      .finally(() => { this.writing.set(endpoint, (this.writing.get(endpoint) ?? 1) - 1) })
  }
}
