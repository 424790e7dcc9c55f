// Custom actions (`options.actions`): plain code with any config.
//
// Contract for a handler `(event, config, ctx) => result`:
// - returning (or resolving) means success; a returned value is kept, as JSON, in the execution log;
// - throwing (or rejecting) is a transient failure, retried by the observer's retry_config;
// - an error with `permanent: true` is a permanent failure, dead-lettered at once;
// - an error's string `code` is recorded as the failure code (default CUSTOM_ERROR);
// - the attempt ends at `ctx.timeoutMs` or when `ctx.signal` aborts, whatever the handler does.
import { Type } from 'typebox'
import type { ActionConfig } from '../model.js'
import type { ActionDefinition, ActionOutcome, CustomActionHandler } from './types.js'
import { REDACTED } from './types.js'
import { boundedText, deadlineFailure, withDeadline } from './common.js'

// Custom configs have no schema that says which values are secret, so names that usually hold one
// are redacted wherever they appear. Handlers should still prefer reading secrets from env.
const SECRET_KEY = /secret|token|password|passwd|api[_-]?key|authorization|credential|private[_-]?key/i

function redactValue (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? REDACTED : redactValue(v)]))
}

function describeResult (result: unknown): string {
  try {
    return JSON.stringify(result) ?? String(result)
  } catch {
    return String(result) // circular or BigInt: the handler still succeeded
  }
}

function failure (err: unknown): ActionOutcome {
  const e = err as { permanent?: unknown, code?: unknown, message?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  const code = typeof e?.code === 'string' && e.code !== '' ? e.code : 'CUSTOM_ERROR'
  return { ok: false, kind: e?.permanent === true ? 'permanent' : 'transient', code, message }
}

export function createCustomAction (name: string, handler: CustomActionHandler): ActionDefinition<ActionConfig> {
  return {
    type: name,
    schema: Type.Object({ type: Type.Literal(name) }, { additionalProperties: true }),
    async run (event, config, ctx) {
      try {
        // Called inside the promise chain so a synchronous throw is a failure like a rejection.
        const result = await withDeadline(Promise.resolve().then(() => handler(event, config, ctx)), ctx.timeoutMs, ctx.signal)
        return result === undefined ? { ok: true } : { ok: true, response: boundedText(describeResult(result)) }
      } catch (err) {
        return deadlineFailure(err) ?? failure(err)
      }
    },
    render: (_event, config) => ({ method: 'CUSTOM', url: null, headers: {}, body: redactValue(config) }),
    redact: (config) => redactValue(config) as ActionConfig
  }
}
