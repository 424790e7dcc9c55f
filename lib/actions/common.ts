// Pieces every built-in action shares: `*_env` settings, config failures, bounded log text.
import { Type } from 'typebox'
import type { RequestPayload } from '../model.js'
import type { ActionOutcome } from './types.js'
import { REDACTED } from './types.js'
import { explainPattern } from '../schema-errors.js'
import { redactUrlText } from '../net/redact-url.js'

/** Name of an environment variable (`url_env`, `signing_secret_env`...). */
export const EnvNameSchema = Type.String({
  pattern: explainPattern('^[A-Za-z_][A-Za-z0-9_]*$', 'must be an environment variable name (letters, digits and _, not starting with a digit)'),
  maxLength: 256
})

/** Attempts per second to the action's endpoint, shared by every observer sending there (the strictest wins). */
export const RateLimitSchema = Type.Object({
  per_second: Type.Number({ exclusiveMinimum: 0, maximum: 100_000 }),
  /** attempts that may go at once after a quiet spell (1) */
  burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 }))
}, { additionalProperties: false })

/** The origin of an http(s) URL (`https://hooks.example.com`, a default port left out), or null when it is not one. */
export function originOf (url: string | undefined | null): string | null {
  if (url === undefined || url === null) return null
  try {
    const u = new URL(url)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null
  } catch {
    return null
  }
}

/** Per-attempt timeout of one action, overriding the observer's `timeout_ms`. */
export const TimeoutMsSchema = Type.Integer({ minimum: 1, maximum: 600_000 })

/** A configuration problem found while running: never retried (retrying cannot fix it). */
export class ActionConfigError extends Error {
  readonly code = 'CONFIG'
}

/**
 * Value of `env[name]`; throws ActionConfigError naming the variable and the setting, never the
 * value, when it is unset or empty.
 */
export function requireEnv (env: Readonly<Record<string, string | undefined>>, name: string, setting: string): string {
  const value = env[name]
  if (value === undefined || value === '') throw new ActionConfigError(`environment variable ${name} (${setting}) is not set`)
  return value
}

/** Turns an ActionConfigError into the permanent CONFIG outcome; anything else is rethrown. */
export function configFailure (err: unknown): ActionOutcome {
  if (err instanceof ActionConfigError) return { ok: false, kind: 'permanent', code: 'CONFIG', message: err.message }
  throw err
}

/** Bytes of a result kept for the execution log (responses, function results). */
export const STORED_RESULT_BYTES = 4096

/** `text` cut to STORED_RESULT_BYTES of UTF-8. */
export function boundedText (text: string): string {
  if (text.length <= STORED_RESULT_BYTES / 4) return text
  const bytes = Buffer.from(text, 'utf8')
  return bytes.length <= STORED_RESULT_BYTES ? text : bytes.subarray(0, STORED_RESULT_BYTES).toString('utf8')
}

/**
 * A failed HTTP attempt's request for the execution log: the values of `secretHeaders`
 * (lower-case names) redacted, the URL redacted, the body cut to STORED_RESULT_BYTES.
 */
export function requestPayload (
  method: string, url: string, headers: Record<string, string>, body: string, secretHeaders: ReadonlySet<string>, secretPath = false
): RequestPayload {
  const shown: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) shown[name] = secretHeaders.has(name) ? REDACTED : value
  return { method, url: redactUrlText(url, secretPath), headers: shown, body: boundedText(body), body_bytes: Buffer.byteLength(body) }
}

/** Exactly one of `a`/`b` set (`required`) or at most one; returns the problem or null. */
export function oneOf (config: Record<string, unknown>, a: string, b: string, required: boolean): string | null {
  const count = (config[a] === undefined ? 0 : 1) + (config[b] === undefined ? 0 : 1)
  if (count === 2) return `${a}: set only one of ${a} or ${b}`
  if (required && count === 0) return `${a}: one of ${a} or ${b} is required`
  return null
}

/** Why a deadline-bounded piece of work stopped waiting. */
export class DeadlineError extends Error {
  constructor (message: string, readonly timedOut: boolean) {
    super(message)
    this.name = 'DeadlineError'
  }
}

/**
 * `work`, or a DeadlineError once `timeoutMs` pass or `signal` aborts (a `TimeoutError` reason
 * counts as a timeout). For work with no cancellation of its own (SMTP, custom code): the attempt
 * ends on time even if the work itself finishes later.
 */
export async function withDeadline<T> (work: Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const stop = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`timed out after ${timeoutMs} ms`, true)), timeoutMs)
    onAbort = () => {
      const timedOut = (signal?.reason as { name?: string } | undefined)?.name === 'TimeoutError'
      reject(new DeadlineError(timedOut ? `timed out after ${timeoutMs} ms` : 'cancelled', timedOut))
    }
    if (signal?.aborted === true) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, stop])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}

/** The outcome for a DeadlineError (transient TIMEOUT or CANCELLED), else null. */
export function deadlineFailure (err: unknown): ActionOutcome | null {
  if (!(err instanceof DeadlineError)) return null
  return err.timedOut
    ? { ok: false, kind: 'transient', code: 'TIMEOUT', message: err.message, timedOut: true }
    : { ok: false, kind: 'transient', code: 'CANCELLED', message: err.message }
}
