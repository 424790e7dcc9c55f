// When to try a failed action again (SPEC section 4 "Retries", section 8 "Retry timing").
// Pure: the clock and the random source are parameters.
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import { DEFAULT_RETRY_CONFIG, type RetryConfig } from '../../model.js'
import { dotted, schemaProblem } from '../../schema-errors.js'

/** The longest wait honoured, for the backoff ceiling and for a server's Retry-After alike. */
export const MAX_RETRY_DELAY_MS = 3_600_000
/** Jitter multiplies the backoff by a factor uniform in [1 - JITTER, 1 + JITTER]. */
export const JITTER = 0.2

const BACKOFF_STRATEGIES = ['exponential', 'linear', 'fixed'] as const

/** `retry_config` as accepted on input: every field optional, missing ones take the defaults. */
export const RetryConfigSchema = Type.Object({
  /** Total attempts, the first included (default 3). */
  max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  /** How the delay grows between attempts (default exponential). */
  backoff_strategy: Type.Optional(Type.Union(BACKOFF_STRATEGIES.map(name => Type.Literal(name)))),
  /** Delay before the first retry, in ms (default 1000). */
  initial_delay_ms: Type.Optional(Type.Integer({ minimum: 10, maximum: MAX_RETRY_DELAY_MS })),
  /** Ceiling of the backoff, in ms (default 60000); must be ≥ initial_delay_ms. */
  max_delay_ms: Type.Optional(Type.Integer({ minimum: 10, maximum: MAX_RETRY_DELAY_MS })),
  /** Spread retries by ±20% so failing targets are not hit in lockstep (default true). */
  jitter: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export type RetryConfigInput = Static<typeof RetryConfigSchema>

/** Defaults under the given fields; undefined fields count as absent. */
export function resolveRetryConfig (partial: Partial<RetryConfig> | null | undefined): RetryConfig {
  const config: RetryConfig = { ...DEFAULT_RETRY_CONFIG }
  if (partial === null || partial === undefined) return config
  for (const key of Object.keys(DEFAULT_RETRY_CONFIG) as (keyof RetryConfig)[]) {
    if (partial[key] !== undefined) (config as unknown as Record<string, unknown>)[key] = partial[key]
  }
  return config
}

/**
 * Validates an input retry_config, schema and cross-field rule; returns a message naming the
 * offending field(s), or null when valid. A default counts: `{ initial_delay_ms: 120000 }`
 * alone fails because the default max_delay_ms is 60000.
 */
export function checkRetryConfig (partial: unknown): string | null {
  if (partial === null || partial === undefined) return null
  if (!Value.Check(RetryConfigSchema, partial)) {
    const { path, message } = schemaProblem(Value.Errors(RetryConfigSchema, partial))
    return `retry_config${path === '' ? '' : `.${dotted(path)}`} ${message}`
  }
  const config = resolveRetryConfig(partial as RetryConfigInput)
  if (config.max_delay_ms < config.initial_delay_ms) {
    return `retry_config.max_delay_ms (${config.max_delay_ms}) must be greater than or equal to ` +
      `retry_config.initial_delay_ms (${config.initial_delay_ms})`
  }
  return null
}

export interface RetryDelayOptions {
  /** The target's Retry-After, in ms (see parseRetryAfter). */
  retryAfterMs?: number
  /** Uniform in [0, 1); Math.random unless a test injects one. */
  random?: () => number
}

function backoff (config: RetryConfig, attempt: number): number {
  switch (config.backoff_strategy) {
    case 'exponential': return config.initial_delay_ms * 2 ** (attempt - 1)
    case 'linear': return config.initial_delay_ms * attempt
    default: return config.initial_delay_ms
  }
}

/**
 * Delay in ms before the next attempt, or null when `attempt` (1-based, the one that just failed)
 * was the last allowed. The backoff is capped by max_delay_ms, jittered, then capped again, so
 * the jittered delay never exceeds max_delay_ms yet retries at the ceiling still spread out.
 * A Retry-After only lengthens the wait: max(backoff, retryAfter), honoured above max_delay_ms
 * but never beyond one hour (a longer Retry-After retries after an hour rather than giving up).
 */
export function nextRetryDelay (config: RetryConfig, attempt: number, opts: RetryDelayOptions = {}): number | null {
  if (!Number.isFinite(attempt) || attempt >= config.max_attempts) return null
  const step = Math.max(1, Math.floor(attempt))
  let delay = Math.min(backoff(config, step), config.max_delay_ms)
  if (config.jitter) {
    const random = opts.random ?? Math.random
    const r = Math.min(1, Math.max(0, random()))
    delay = Math.min(delay * (1 - JITTER + 2 * JITTER * r), config.max_delay_ms)
  }
  const retryAfter = opts.retryAfterMs
  if (retryAfter !== undefined && Number.isFinite(retryAfter) && retryAfter > delay) {
    delay = Math.min(retryAfter, MAX_RETRY_DELAY_MS)
  }
  return Math.round(delay)
}
