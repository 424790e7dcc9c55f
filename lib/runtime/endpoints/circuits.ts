// The circuits' decisions (SPEC 9.3) around the attempts the guard lets go: each outcome counted
// in the endpoint's window, shared by every instance (window.ts); a circuit opened when the window
// calls for it, here at once or at the round that sums every instance's counts; every probe's
// verdict; endpoints open too long disabled. Decided here first (states.ts), written behind.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { ActionOutcome } from '../../actions/types.js'
import { closeCircuit, disableEndpoints, openCircuit, pauseEndpoint, probeFailed } from '../../db/endpoints.repo.js'
import type { Database } from '../../db/types.js'
import { isTransientFailure, nextCoolDown, probeVerdict, shouldOpen, type CircuitBreakerOptions } from './circuit.js'
import type { EndpointStates } from './states.js'
import { SharedWindows, type Counts } from './window.js'

export class EndpointCircuits {
  private readonly windows: SharedWindows | undefined
  private readonly opening = new Set<string>()

  constructor (
    private readonly db: Kysely<Database>,
    private readonly log: FastifyBaseLogger,
    private readonly options: CircuitBreakerOptions | false,
    private readonly states: EndpointStates,
    /** the observers sending to an endpoint (named in its announcements, disabled with it) */
    private readonly observersOf: (endpoint: string) => readonly string[],
    private readonly now: () => number = Date.now
  ) {
    this.windows = options === false ? undefined : new SharedWindows(db, options.windowMs)
  }

  /** An operator reset the endpoint: the window starts afresh. */
  forget (endpoint: string): void {
    this.windows?.forget(endpoint)
    this.states.delete(endpoint)
  }

  /** Every endpoint's window over every instance, this instance's counts added first. */
  async windowTotals (): Promise<Map<string, Counts>> {
    if (this.windows === undefined) return new Map()
    await this.flushWindows()
    return await this.windows.totals()
  }

  /** Whether a circuit is open somewhere (only then can one be overdue for disabling). */
  anyOpen (): boolean {
    for (const s of this.states.values()) if (s.state === 'open' || s.state === 'half_open') return true
    return false
  }

  /**
   * Adds this instance's window counts to the shared window (the endpoint worker's round), and
   * opens the circuits whose totals over every instance call for it.
   */
  async flushWindows (): Promise<void> {
    if (this.windows === undefined || this.options === false) return
    for (const total of await this.windows.flush()) {
      const state = this.states.get(total.endpoint)
      if ((state?.state ?? 'closed') !== 'closed' || (state?.generation ?? 0) !== total.generation) continue
      if (shouldOpen(total, this.options)) this.open(total.endpoint, total.generation)
    }
  }

  /** Feeds an attempt's outcome to the endpoint's window and circuit. */
  record (endpoint: string, outcome: ActionOutcome, probe: boolean): void {
    if (!outcome.ok && outcome.statusCode === 429 && outcome.retryAfterMs !== undefined) {
      const until = this.now() + outcome.retryAfterMs
      this.states.remember(endpoint, (s) => ({ ...s, paused_until: new Date(until) }))
      this.states.background(pauseEndpoint(this.db, endpoint, until), endpoint, 'pausing')
    }
    if (this.options === false || this.windows === undefined) return
    const options = this.options
    if (probe) return this.probed(endpoint, outcome, options)
    const failed = isTransientFailure(outcome)
    const state = this.states.get(endpoint)
    const generation = state?.generation ?? 0
    this.windows.record(endpoint, generation, failed)
    if (!failed || this.opening.has(endpoint) || (state?.state ?? 'closed') !== 'closed') return
    // the fast path: what every instance had counted at the last round, and what this one counted since
    if (shouldOpen(this.windows.counts(endpoint, generation), options)) this.open(endpoint, generation)
  }

  /**
   * Every probe resolves its circuit: an answer other than 5xx, 408 or 429 closes it, a transient
   * failure reopens it for a longer cool-down, and with no answer it stays half-open until the
   * probe is given up on, when the next one goes.
   */
  private probed (endpoint: string, outcome: ActionOutcome, options: CircuitBreakerOptions): void {
    const verdict = probeVerdict(outcome)
    if (verdict === 'reopen') {
      const coolDown = nextCoolDown(this.states.get(endpoint)?.cool_down_ms ?? options.coolDownMs, options)
      this.states.remember(endpoint, (s) => ({ ...s, state: 'open', cool_down_ms: coolDown, next_probe_at: new Date(this.now() + coolDown) }))
      this.states.background(probeFailed(this.db, endpoint, coolDown), endpoint, 'reopening')
    } else if (verdict === 'close') {
      this.windows?.forget(endpoint)
      this.states.remember(endpoint, (s) => ({ ...s, state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 0 }))
      this.states.background(closeCircuit(this.db, endpoint, this.observersOf(endpoint)).then((generation) => {
        if (generation === undefined) return
        this.states.remember(endpoint, (s) => ({ ...s, generation }))
        this.log.info({ endpoint }, 'endpoint recovered: circuit closed, what waited goes out')
      }), endpoint, 'closing')
    }
  }

  /** Opens the circuit, if still closed in `generation` everywhere. */
  private open (endpoint: string, generation: number): void {
    if (this.options === false || this.opening.has(endpoint)) return
    const coolDownMs = this.options.coolDownMs
    this.opening.add(endpoint)
    this.states.remember(endpoint, (s) => ({ ...s, state: 'open', opened_at: new Date(this.now()), next_probe_at: new Date(this.now() + coolDownMs), cool_down_ms: coolDownMs }))
    this.states.background(openCircuit(this.db, endpoint, coolDownMs, this.observersOf(endpoint), generation)
      .then((opened) => { if (opened) this.log.warn({ endpoint }, 'endpoint failing: circuit opened, deliveries to it wait') })
      .finally(() => { this.opening.delete(endpoint) }), endpoint, 'opening')
  }

  /** Disables the endpoints open for `disableAfterMs`; returns them. */
  async disableOverdue (): Promise<string[]> {
    if (this.options === false || !this.anyOpen()) return []
    const disabled = await disableEndpoints(this.db, this.options.disableAfterMs, (endpoint) => this.observersOf(endpoint))
    for (const endpoint of disabled) this.log.warn({ endpoint }, 'endpoint disabled: its circuit stayed open; its observers are disabled and what waited is dead-lettered')
    if (disabled.length > 0) await this.states.refresh()
    return disabled
  }
}
