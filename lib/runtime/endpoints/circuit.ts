// Endpoint protection's pure core (SPEC 9.3): the rolling window of attempts per endpoint, when a
// circuit opens, how long it stays open, and whether an attempt may go now. No I/O, no clock of
// its own: the shared state lives in tb_observer_endpoint (lib/db/endpoints.repo.ts) and the
// guard (guard.ts) moves it.
import type { ActionOutcome } from '../../actions/types.js'
import type { EndpointState } from '../../model.js'

export interface CircuitBreakerOptions {
  /** the rolling window the failure rate is measured over, in ms (60 000) */
  windowMs: number
  /** fewest attempts in the window before the circuit may open (10) */
  minAttempts: number
  /** share of transient failures in the window that opens the circuit (0.7) */
  failureRate: number
  /** first cool-down before a probe, in ms (30 000); doubles while probes fail */
  coolDownMs: number
  /** longest cool-down, in ms (600 000) */
  maxCoolDownMs: number
  /** an endpoint open this long is disabled, in ms (3 days) */
  disableAfterMs: number
}

export const CIRCUIT_DEFAULTS: Readonly<CircuitBreakerOptions> = Object.freeze({
  windowMs: 60_000,
  minAttempts: 10,
  failureRate: 0.7,
  coolDownMs: 30_000,
  maxCoolDownMs: 600_000,
  disableAfterMs: 3 * 24 * 3600_000
})

export type { CircuitState, EndpointState } from '../../model.js'

const BUCKETS = 60

/** Attempts and transient failures of one endpoint over the last `windowMs`, in 60 buckets. */
export class RollingWindow {
  private readonly attempts = new Array<number>(BUCKETS).fill(0)
  private readonly failures = new Array<number>(BUCKETS).fill(0)
  /** the bucket index (time / bucket width) of the newest bucket written */
  private newest = -1

  constructor (private readonly windowMs: number) {}

  private bucketOf (now: number): number {
    return Math.floor(now / (this.windowMs / BUCKETS))
  }

  /** Clears the buckets that fell out of the window since the last write. */
  private advance (now: number): number {
    const bucket = this.bucketOf(now)
    if (bucket > this.newest) {
      for (let b = Math.max(this.newest + 1, bucket - BUCKETS + 1); b <= bucket; b++) {
        this.attempts[b % BUCKETS] = 0
        this.failures[b % BUCKETS] = 0
      }
      this.newest = bucket
    }
    return bucket
  }

  record (now: number, failed: boolean): void {
    const slot = this.advance(now) % BUCKETS
    this.attempts[slot]++
    if (failed) this.failures[slot]++
  }

  counts (now: number): { attempts: number, failures: number } {
    this.advance(now)
    let attempts = 0
    let failures = 0
    for (let i = 0; i < BUCKETS; i++) {
      attempts += this.attempts[i]
      failures += this.failures[i]
    }
    return { attempts, failures }
  }

  reset (): void {
    this.attempts.fill(0)
    this.failures.fill(0)
  }
}

/** Enough attempts in the window, and enough of them failed transiently. */
export function shouldOpen ({ attempts, failures }: { attempts: number, failures: number }, options: CircuitBreakerOptions): boolean {
  return attempts >= options.minAttempts && failures >= options.failureRate * attempts
}

/** The cool-down after a failed probe: doubled, at most maxCoolDownMs. */
export function nextCoolDown (current: number, options: CircuitBreakerOptions): number {
  return Math.min(Math.max(current, options.coolDownMs) * 2, options.maxCoolDownMs)
}

/** What an attempt to an endpoint may do now. */
export type Gate =
  | { go: true, probe: boolean }
  | { go: false, until: Date, reason: 'open' | 'probing' | 'paused' | 'disabled' }

export function gate (state: EndpointState | undefined, now: number): Gate {
  if (state === undefined) return { go: true, probe: false }
  if (state.state === 'disabled') return { go: false, until: new Date(now), reason: 'disabled' }
  if (state.paused_until !== null && state.paused_until.getTime() > now) return { go: false, until: state.paused_until, reason: 'paused' }
  if (state.state === 'closed') return { go: true, probe: false }
  const probeAt = state.next_probe_at?.getTime() ?? now
  if (state.state === 'open' && probeAt <= now) return { go: true, probe: true }
  return { go: false, until: new Date(Math.max(probeAt, now)), reason: state.state === 'open' ? 'open' : 'probing' }
}

/** Whether an open endpoint has been open long enough to be disabled. */
export function disableDue (state: EndpointState, now: number, options: CircuitBreakerOptions): boolean {
  return (state.state === 'open' || state.state === 'half_open') && state.opened_at !== null && now - state.opened_at.getTime() >= options.disableAfterMs
}

/** An attempt that was not made: it waits (no attempt used) until `until`, or is dead-lettered when disabled. */
export function notAttempted (reason: 'open' | 'probing' | 'paused' | 'busy' | 'disabled', endpoint: string, until: Date): ActionOutcome {
  if (reason === 'disabled') return { ok: false, kind: 'permanent', code: 'ENDPOINT_DISABLED', message: `endpoint ${endpoint} is disabled; reset it to send again` }
  const [code, why] = reason === 'paused'
    ? ['ENDPOINT_PAUSED', 'asked to wait (Retry-After)']
    : reason === 'busy' ? ['ENDPOINT_BUSY', 'has every slot busy'] : ['ENDPOINT_OPEN', 'is failing (circuit open)']
  return { ok: false, kind: 'transient', code, message: `endpoint ${endpoint} ${why}; waiting, no attempt used`, deferUntil: until }
}
