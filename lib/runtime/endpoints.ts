// Endpoint protection on the executing side (SPEC 9.3): before an attempt to an endpoint goes, its
// circuit, pause and rate limit are consulted; after, its outcome feeds the endpoint's window.
// The shared state (tb_observer_endpoint) is cached here and reloaded when an instance announces
// a change; the decisions are circuit.ts's.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { ActionOutcome } from '../actions/types.js'
import { claimProbe, closeCircuit, disableEndpoints, loadEndpoints, openCircuit, pauseEndpoint, probeFailed, reserveRate } from '../db/endpoints.repo.js'
import type { Database } from '../db/types.js'
import type { EndpointState } from '../model.js'
import { RollingWindow, gate, nextCoolDown, shouldOpen, type CircuitBreakerOptions } from './circuit.js'
import { Limiter } from './limiter.js'

export interface RateLimit { per_second: number, burst: number }

/** What the guard needs to know of the observers: which send to an endpoint, and its strictest rate limit. */
export interface EndpointUsers {
  observersOf: (endpoint: string) => readonly string[]
  rateLimitOf: (endpoint: string) => RateLimit | undefined
}

/** An attempt that was not made: it waits (no attempt used) until `until`, or is dead-lettered when disabled. */
export function notAttempted (reason: 'open' | 'probing' | 'paused' | 'disabled', endpoint: string, until: Date): ActionOutcome {
  if (reason === 'disabled') return { ok: false, kind: 'permanent', code: 'ENDPOINT_DISABLED', message: `endpoint ${endpoint} is disabled; reset it to send again` }
  const code = reason === 'paused' ? 'ENDPOINT_PAUSED' : 'ENDPOINT_OPEN'
  return { ok: false, kind: 'transient', code, message: `endpoint ${endpoint} ${reason === 'paused' ? 'asked to wait (Retry-After)' : 'is failing (circuit open)'}; waiting, no attempt used`, deferUntil: until }
}

export class EndpointGuard {
  private states = new Map<string, EndpointState>()
  private readonly windows = new Map<string, RollingWindow>()
  private readonly slots = new Map<string, Limiter>()
  private readonly opening = new Set<string>()
  /** attempts in flight per endpoint (this instance) */
  readonly inFlight = new Map<string, number>()

  constructor (
    private readonly db: Kysely<Database>,
    private readonly log: FastifyBaseLogger,
    private readonly options: CircuitBreakerOptions | false,
    private readonly maxInFlight: number,
    private readonly users: EndpointUsers,
    private readonly now: () => number = Date.now
  ) {}

  /** Reloads the shared state (at start, on an announced change, periodically). */
  async refresh (): Promise<void> {
    this.states = new Map((await loadEndpoints(this.db)).map((s) => [s.endpoint, s]))
  }

  state (endpoint: string): EndpointState | undefined { return this.states.get(endpoint) }

  all (): EndpointState[] { return [...this.states.values()] }

  window (endpoint: string): { attempts: number, failures: number } {
    return this.windows.get(endpoint)?.counts(this.now()) ?? { attempts: 0, failures: 0 }
  }

  /** Runs `task` holding one of the endpoint's `maxInFlightPerEndpoint` slots. */
  async withSlot<T> (endpoint: string, task: () => Promise<T>): Promise<T> {
    let slots = this.slots.get(endpoint)
    if (slots === undefined) this.slots.set(endpoint, slots = new Limiter(this.maxInFlight))
    return await slots.run(async () => {
      this.inFlight.set(endpoint, (this.inFlight.get(endpoint) ?? 0) + 1)
      try {
        return await task()
      } finally {
        this.inFlight.set(endpoint, (this.inFlight.get(endpoint) ?? 1) - 1)
      }
    })
  }

  /**
   * May an attempt go now? Undefined when it may (after waiting for its rate-limit slot, if any),
   * else the outcome of an attempt not made. `probe` is set when this attempt is the circuit's probe.
   */
  async admit (endpoint: string): Promise<{ refused?: ActionOutcome, probe: boolean }> {
    const decision = gate(this.options === false ? this.pausedOnly(endpoint) : this.states.get(endpoint), this.now())
    if (!decision.go) return { refused: notAttempted(decision.reason, endpoint, decision.until), probe: false }
    if (decision.probe && this.options !== false) {
      // one probe for every instance: whoever claims it sends; the others wait for its verdict
      if (!await claimProbe(this.db, endpoint, this.options.coolDownMs)) {
        return { refused: notAttempted('probing', endpoint, new Date(this.now() + this.options.coolDownMs)), probe: false }
      }
    }
    const limit = this.users.rateLimitOf(endpoint)
    if (limit !== undefined) await this.waitForRate(endpoint, limit)
    return { probe: decision.probe }
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
  record (endpoint: string, outcome: ActionOutcome, probe: boolean): void {
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
        this.background(closeCircuit(this.db, endpoint, this.users.observersOf(endpoint)), endpoint, 'closing')
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
    if (this.options === false) return []
    const disabled = await disableEndpoints(this.db, this.options.disableAfterMs, (endpoint) => this.users.observersOf(endpoint))
    for (const endpoint of disabled) this.log.warn({ endpoint }, 'endpoint disabled: its circuit stayed open; its observers are disabled and what waited is dead-lettered')
    if (disabled.length > 0) await this.refresh()
    return disabled
  }

  private remember (endpoint: string, change: (state: EndpointState) => EndpointState): void {
    const current = this.states.get(endpoint) ?? { endpoint, state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 0, paused_until: null }
    this.states.set(endpoint, change(current))
  }

  private background (work: Promise<unknown>, endpoint: string, what: string): void {
    work.catch((err: unknown) => { this.log.error({ err, endpoint }, `${what} the endpoint's circuit failed`) })
  }
}
