// Endpoint protection's pure core (SPEC 9.3): when a circuit opens, how long it stays open, what
// a probe's outcome does to it, and whether an attempt may go now. No I/O, no clock of
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
  // half-open past its probe time: the last probe ended with no answer (or its instance died)
  if (probeAt <= now) return { go: true, probe: true }
  return { go: false, until: new Date(probeAt), reason: state.state === 'open' ? 'open' : 'probing' }
}

/** What a probe's outcome does to its circuit: an answer closes or reopens it; no answer leaves it for the next probe. */
export type ProbeVerdict = 'close' | 'reopen' | 'none'

export function probeVerdict (outcome: ActionOutcome): ProbeVerdict {
  if (outcome.ok) return 'close'
  if (isTransientFailure(outcome)) return 'reopen'
  // a 4xx or 3xx answer: the endpoint is up, and the delivery ends by its own status
  return outcome.statusCode !== undefined ? 'close' : 'none'
}

/** A failure that counts against the endpoint: 5xx, 408, 429, a timeout, a network error. */
export function isTransientFailure (outcome: ActionOutcome): boolean {
  return !outcome.ok && outcome.kind === 'transient' && outcome.code !== 'CANCELLED' && outcome.code !== 'EXCEPTION'
}

/** Whether an open endpoint has been open long enough to be disabled. */
export function disableDue (state: EndpointState, now: number, options: CircuitBreakerOptions): boolean {
  return (state.state === 'open' || state.state === 'half_open') && state.opened_at !== null && now - state.opened_at.getTime() >= options.disableAfterMs
}

/** An attempt that was not made: it waits (no attempt used) until `until`, or is dead-lettered when disabled. */
export function notAttempted (reason: 'open' | 'probing' | 'paused' | 'busy' | 'rate' | 'disabled', endpoint: string, until: Date): ActionOutcome {
  if (reason === 'disabled') return { ok: false, kind: 'permanent', code: 'ENDPOINT_DISABLED', message: `endpoint ${endpoint} is disabled; reset it to send again` }
  const [code, why] = WAITS[reason]
  return { ok: false, kind: 'transient', code, message: waitMessage(endpoint, why), deferUntil: until }
}

const waitMessage = (endpoint: string, why: string): string => `endpoint ${endpoint} ${why}; waiting, no attempt used`

/** The last error of a delivery waiting for one of the endpoint's slots (what finds it again when the endpoint answers quickly). */
export const busyMessage = (endpoint: string): string => waitMessage(endpoint, WAITS.busy[1])

const WAITS = {
  open: ['ENDPOINT_OPEN', 'is failing (circuit open)'],
  probing: ['ENDPOINT_OPEN', 'is failing (circuit open)'],
  paused: ['ENDPOINT_PAUSED', 'asked to wait (Retry-After)'],
  busy: ['ENDPOINT_BUSY', 'has every slot busy'],
  rate: ['ENDPOINT_RATE_LIMITED', 'is rate-limited (its slot comes later)']
} as const

/** Whether a delivery not attempted waits for its endpoint's circuit or pause (due at once when it closes), rather than for a slot or its rate. */
export function waitsForCircuit (code: string): boolean {
  return code === 'ENDPOINT_OPEN' || code === 'ENDPOINT_PAUSED'
}
