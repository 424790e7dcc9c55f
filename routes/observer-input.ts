// Save-time checks of an observer body beyond its schema: the condition parses, every action
// passes its own schema, retry_config is coherent; and redacted secrets sent back by a client
// are restored from the stored observer instead of overwriting it.
import type { FastifyInstance } from 'fastify'
import { REDACTED } from '../lib/actions/types.js'
import { checkCondition } from '../lib/condition/index.js'
import { InvalidActionError, InvalidConditionError, ValidationError } from '../lib/errors.js'
import type { ActionConfig, Observer, OnDeadLetter, Ordering, RetryConfig } from '../lib/model.js'
import { checkRetryConfig } from '../lib/runtime/delivery/retry-policy.js'

export interface ObserverInput {
  name?: string
  description?: string | null
  entity_type?: string | null
  event_type?: string | null
  condition_expression?: string | null
  actions?: ActionConfig[]
  enabled?: boolean
  priority?: number
  retry_config?: Partial<RetryConfig> | null
  timeout_ms?: number
  ordering?: Ordering
  on_dead_letter?: OnDeadLetter
  tenant_id?: string | null
}

/**
 * Throws the 400 naming the first problem; returns the input with event_type upper-cased. A PATCH
 * passes the stored observer, so rules across fields hold for the observer as it will be.
 */
export function checkObserverInput<T extends ObserverInput> (app: FastifyInstance, input: T, current?: Observer): T {
  const ordering = input.ordering ?? current?.ordering ?? 'none'
  if ((input.on_dead_letter ?? current?.on_dead_letter) === 'block' && ordering !== 'entity') {
    throw new ValidationError('body/on_dead_letter must be skip unless ordering is entity (only an ordered observer holds an entity\'s later events)')
  }
  if (input.condition_expression !== undefined && input.condition_expression !== null) {
    const check = checkCondition(input.condition_expression)
    if (!check.ok) throw new InvalidConditionError(check.message.includes('position') ? check.message : `${check.message} at position ${check.position}`)
  }
  const retryProblem = checkRetryConfig(input.retry_config)
  if (retryProblem !== null) throw new ValidationError(`body/${retryProblem}`)
  input.actions?.forEach((action, index) => {
    const problem = app.observers.actions.validate(action, index)
    if (problem !== null) throw new InvalidActionError(`body/${problem}`)
  })
  const out = { ...input }
  if (typeof input.event_type === 'string') out.event_type = input.event_type.toUpperCase()
  return out
}

/** Path of the first value equal to the redacted placeholder, or null. */
function findRedacted (value: unknown, path: string): string | null {
  if (value === REDACTED) return path
  if (typeof value !== 'object' || value === null) return null
  for (const [key, inner] of Object.entries(value)) {
    const found = findRedacted(inner, `${path}/${key}`)
    if (found !== null) return found
  }
  return null
}

/** A new observer cannot carry the placeholder: it would become the secret. */
export function refuseRedacted (actions: readonly ActionConfig[] | undefined): void {
  actions?.forEach((action, index) => {
    const path = findRedacted(action, `body/actions/${index}`)
    if (path !== null) throw new InvalidActionError(`${path}: is the redacted placeholder "${REDACTED}"; send the value itself`)
  })
}

function restore (incoming: unknown, stored: unknown, path: string): unknown {
  if (incoming === REDACTED) {
    if (typeof stored !== 'string') throw new InvalidActionError(`${path}: is the redacted placeholder "${REDACTED}" but no stored value is at this place; send the value itself`)
    return stored
  }
  if (Array.isArray(incoming)) return incoming.map((v, i) => restore(v, Array.isArray(stored) ? stored[i] : undefined, `${path}/${i}`))
  if (typeof incoming !== 'object' || incoming === null) return incoming
  const from = typeof stored === 'object' && stored !== null ? stored as Record<string, unknown> : {}
  return Object.fromEntries(Object.entries(incoming).map(([k, v]) => [k, restore(v, from[k], `${path}/${k}`)]))
}

/**
 * GET-then-PATCH must not destroy secrets: a placeholder in an action is replaced by the stored
 * value at the same place of the stored action at the same index, when that action has the same type.
 */
export function restoreSecrets (actions: ActionConfig[], stored: readonly ActionConfig[]): ActionConfig[] {
  return actions.map((action, index) => {
    const previous = stored[index]
    const same = previous !== undefined && previous.type === action.type
    return restore(action, same ? previous : undefined, `body/actions/${index}`) as ActionConfig
  })
}

/** The observer as served: secrets replaced by the placeholder. */
export function redactObserver<T extends Observer> (app: FastifyInstance, observer: T): T {
  return { ...observer, actions: observer.actions.map((action) => redactAction(app, action)) }
}

function redactAction (app: FastifyInstance, action: ActionConfig): ActionConfig {
  if (app.observers.actions.get(action.type) !== undefined) return app.observers.actions.redact(action)
  // a type no longer registered (a custom action removed from the options): nothing is known to be safe
  return Object.fromEntries(Object.entries(action).map(([k, v]) => [k, k === 'type' ? v : REDACTED])) as ActionConfig
}
