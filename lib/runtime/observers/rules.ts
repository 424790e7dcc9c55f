// The matching rules of SPEC section 4 "Matching", one observer against one event, and the bucket
// keys the index files observers under. Pure.
import { compileCondition, type CompiledCondition } from '../../condition/index.js'
import type { Observer, ObserverEvent } from '../../model.js'

export type MismatchReason = 'disabled' | 'event_type' | 'entity_type' | 'tenant' | 'condition'

export interface MatchExplanation {
  matches: boolean
  /** The first rule that failed, in the order listed in MismatchReason; null when it matches. */
  reason: MismatchReason | null
  /** The condition's result; null when it was not evaluated (an earlier rule failed, or it is invalid). */
  condition: boolean | null
}

// Keys cannot collide with real names: they start with a NUL that no event_type carries.
export const ANY = '\u0000any'

export function isLive (observer: Observer): boolean {
  return observer.enabled && (observer.deleted_at === null || observer.deleted_at === undefined)
}

/** Entity types match exactly, case included (they name tables, which are case-sensitive). */
export function entityKey (entityType: string | null): string {
  return entityType === null || entityType === '*' ? ANY : entityType
}

/** An observer of one tenant is filed under it; a global one under ANY. */
export function tenantKey (tenantId: string | null): string {
  return tenantId === null ? ANY : tenantId
}

/** The event's side of the key; never ANY, so a malformed event cannot read a bucket twice. */
export function eventTypeOf (event: ObserverEvent): string {
  return typeof event.event_type === 'string' ? event.event_type.toUpperCase() : ''
}

/** Event types match case-insensitively (they are stored upper-case, dry runs may not be). */
export function eventKey (eventType: string | null): string {
  return eventType === null ? ANY : eventType.toUpperCase()
}

export function safely (condition: CompiledCondition, event: ObserverEvent, observer?: Observer, onError?: (observer: Observer, event: ObserverEvent, error: unknown) => void): boolean {
  try {
    return condition(event) === true
  } catch (err) {
    try {
      if (observer !== undefined) onError?.(observer, event, err)
    } catch {
      // a failing reporter must not stop the matching
    }
    return false
  }
}

export function explainWith (observer: Observer, event: ObserverEvent, condition: () => CompiledCondition): MatchExplanation {
  const fail = (reason: MismatchReason): MatchExplanation => ({ matches: false, reason, condition: null })
  if (!isLive(observer)) return fail('disabled')
  if (observer.event_type !== null && eventKey(observer.event_type) !== eventTypeOf(event)) return fail('event_type')
  if (entityKey(observer.entity_type) !== ANY && observer.entity_type !== event.entity_type) return fail('entity_type')
  if (observer.tenant_id !== null && observer.tenant_id !== event.tenant_id) return fail('tenant')
  let predicate: CompiledCondition
  try {
    predicate = condition()
  } catch {
    return fail('condition')
  }
  const holds = safely(predicate, event)
  return { matches: holds, reason: holds ? null : 'condition', condition: holds }
}

/** explain() for an observer that need not be indexed (a dry run of an unsaved observer). */
export function explainMatch (observer: Observer, event: ObserverEvent, compile = compileCondition): MatchExplanation {
  return explainWith(observer, event, () => compile(observer.condition_expression))
}
