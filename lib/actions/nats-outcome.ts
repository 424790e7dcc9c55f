// What a NATS publish's failure means for its delivery. Errors are told apart by name along their
// `cause` chain (the client wraps them), so this module needs no NATS code loaded. Pure: no I/O.
import type { ActionOutcome } from './types.js'
import { ActionConfigError } from './common.js'

type Failure = Extract<ActionOutcome, { ok: false }>

/** JetStream API error code for a message over the stream's `max_msg_size`. */
const JS_MESSAGE_TOO_LARGE = 10054

/** The error and its causes, outermost first (bounded: a cycle must not hang an attempt). */
function chain (err: unknown): Array<{ name?: string, message?: string, code?: unknown }> {
  const out: Array<{ name?: string, message?: string, code?: unknown }> = []
  let current = err as { name?: string, message?: string, code?: unknown, cause?: unknown } | undefined
  while (current !== undefined && current !== null && out.length < 8) {
    out.push(current)
    current = current.cause as typeof current
  }
  return out
}

const has = (errors: ReturnType<typeof chain>, name: string): boolean => errors.some((e) => e.name === name)

/** Whether the publish found no subscriber at all on its subject: no stream, or JetStream unavailable. */
export function isNoResponders (err: unknown): boolean {
  const errors = chain(err)
  return has(errors, 'NoResponders') || has(errors, 'JetStreamNotEnabled')
}

const permanent = (code: string, message: string): Failure => ({ ok: false, kind: 'permanent', code, message })
const transient = (code: string, message: string): Failure => ({ ok: false, kind: 'transient', code, message })

/**
 * Permanent: a permissions violation, a message over the server's or the stream's size limit,
 * refused credentials, an address the guard refuses, a configuration problem. Transient: timeouts,
 * no responders, disconnects, and JetStream errors not known to be final.
 */
export function classifyNatsError (err: unknown): Failure {
  const errors = chain(err)
  const message = errors[0]?.message ?? String(err)
  const deepest = errors.at(-1)?.message ?? message
  if (err instanceof ActionConfigError) return permanent('CONFIG', message)
  if (errors.some((e) => e.code === 'SSRF_BLOCKED')) return permanent('SSRF_BLOCKED', message)
  if (has(errors, 'PermissionViolationError')) return permanent('NATS_PERMISSION', deepest)
  if (errors.some((e) => e.name === 'InvalidArgumentError' && /max_payload/.test(e.message ?? ''))) {
    return permanent('NATS_MAX_PAYLOAD', 'the message is larger than the server\'s max_payload')
  }
  const api = errors.find((e) => e.name === 'JetStreamApiError' || e.name === 'StreamNotFoundError')
  if (api !== undefined && api.code === JS_MESSAGE_TOO_LARGE) return permanent('NATS_MAX_PAYLOAD', api.message ?? message)
  if (has(errors, 'AuthorizationError') || has(errors, 'UserAuthenticationExpiredError')) return permanent('NATS_AUTH', deepest)
  if (has(errors, 'InvalidSubjectError')) return permanent('CONFIG', deepest)
  if (has(errors, 'TimeoutError')) return { ok: false, kind: 'transient', code: 'TIMEOUT', message: 'no acknowledgement in time', timedOut: true }
  if (isNoResponders(err)) return transient('NATS_NO_RESPONDERS', 'no responders: JetStream is not available for the subject')
  if (api !== undefined) return transient(`NATS_API_${String(api.code)}`, api.message ?? message)
  if (has(errors, 'ClosedConnectionError') || has(errors, 'DrainingConnectionError') || has(errors, 'ConnectionError') ||
    errors.some((e) => typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code))) {
    return transient('NATS_DISCONNECTED', deepest)
  }
  return transient('NATS_ERROR', message)
}

/** A publish with no responders whose subject no stream captures: retrying cannot help. */
export const noStream = (subject: string): Failure =>
  permanent('NATS_NO_STREAM', `no JetStream stream captures the subject ${subject}`)
