// Which observers an event triggers (SPEC section 4 "Matching"). Observers are indexed by
// (event_type or any) × (entity_type or wildcard); an event looks up at most four buckets and
// merges them in priority order, memoised per (event_type, entity_type). A Matcher is immutable:
// reloading builds a new one and swaps the reference, so a reader never sees half an index.
import { compileCondition, type CompiledCondition } from '../../condition/index.js'
import type { Observer, ObserverEvent, RetryConfig } from '../../model.js'
import { resolveRetryConfig } from '../delivery/retry-policy.js'

export interface MatchedObserver {
  readonly observer: Observer
  /** The observer's retry_config over DEFAULT_RETRY_CONFIG. */
  readonly retry: Readonly<RetryConfig>
}

export type MismatchReason = 'disabled' | 'event_type' | 'entity_type' | 'tenant' | 'condition'

export interface MatchExplanation {
  matches: boolean
  /** The first rule that failed, in the order listed in MismatchReason; null when it matches. */
  reason: MismatchReason | null
  /** The condition's result; null when it was not evaluated (an earlier rule failed, or it is invalid). */
  condition: boolean | null
}

export interface MatcherOptions {
  /** Condition compiler (default compileCondition); it may throw for invalid source. */
  compile?: (source: string | null | undefined) => CompiledCondition
  /** Told about each observer left out because its condition does not compile. */
  onInvalid?: (observer: Observer, error: unknown) => void
  /** Told when a condition throws while evaluated (treated as no match); never expected. */
  onEvaluationError?: (observer: Observer, event: ObserverEvent, error: unknown) => void
}

export interface Matcher {
  /** Observers indexed: enabled, not deleted, with a valid condition. */
  readonly size: number
  /** Observers the event triggers, lowest priority first (ties: older created_at, then id). */
  match (event: ObserverEvent): MatchedObserver[]
  /** Why one observer does or does not match an event (the dry-run route); never throws. */
  explain (observer: Observer, event: ObserverEvent): MatchExplanation
}

interface Entry {
  rank: number
  tenant: string | null
  condition: CompiledCondition
  matched: MatchedObserver
}

// Keys cannot collide with real names: they start with a NUL that no event_type carries.
const ANY = '\u0000any'
const MAX_MEMO = 10_000

function isLive (observer: Observer): boolean {
  return observer.enabled && (observer.deleted_at === null || observer.deleted_at === undefined)
}

/** Entity types match exactly, case included (they name tables, which are case-sensitive). */
function entityKey (entityType: string | null): string {
  return entityType === null || entityType === '*' ? ANY : entityType
}

/** The event's side of the key; never ANY, so a malformed event cannot read a bucket twice. */
function eventTypeOf (event: ObserverEvent): string {
  return typeof event.event_type === 'string' ? event.event_type.toUpperCase() : ''
}

/** Event types match case-insensitively (they are stored upper-case, dry runs may not be). */
function eventKey (eventType: string | null): string {
  return eventType === null ? ANY : eventType.toUpperCase()
}

function byPriority (a: Observer, b: Observer): number {
  return a.priority - b.priority ||
    a.created_at.getTime() - b.created_at.getTime() ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

function safely (condition: CompiledCondition, event: ObserverEvent, observer?: Observer, onError?: MatcherOptions['onEvaluationError']): boolean {
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

function explainWith (observer: Observer, event: ObserverEvent, condition: () => CompiledCondition): MatchExplanation {
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

/** Never throws: an observer whose condition does not compile is reported and left out. */
export function buildMatcher (observers: readonly Observer[], options: MatcherOptions = {}): Matcher {
  const compile = options.compile ?? compileCondition
  const buckets = new Map<string, Map<string, Entry[]>>()
  const compiled = new Map<Observer, CompiledCondition>()
  const live = observers.filter(isLive).sort(byPriority)
  for (const observer of live) {
    let condition: CompiledCondition
    try {
      condition = compile(observer.condition_expression)
    } catch (err) {
      try {
        options.onInvalid?.(observer, err)
      } catch {
        // A failing reporter must not take the whole index down with it.
      }
      continue
    }
    compiled.set(observer, condition)
    const matched = Object.freeze({ observer, retry: Object.freeze(resolveRetryConfig(observer.retry_config)) })
    const entry: Entry = { rank: compiled.size, tenant: observer.tenant_id, condition, matched }
    const ev = eventKey(observer.event_type)
    let byEntity = buckets.get(ev)
    if (byEntity === undefined) buckets.set(ev, byEntity = new Map())
    const key = entityKey(observer.entity_type)
    const bucket = byEntity.get(key)
    if (bucket === undefined) byEntity.set(key, [entry])
    else bucket.push(entry) // `live` is sorted, so every bucket is too
  }

  const memo = new Map<string, Entry[]>()
  const candidates = (eventType: string, entityType: string): Entry[] => {
    const memoKey = `${eventType}\u0000${entityType}`
    const hit = memo.get(memoKey)
    if (hit !== undefined) return hit
    const found: Entry[] = []
    for (const ev of [eventType, ANY]) {
      const byEntity = buckets.get(ev)
      if (byEntity === undefined) continue
      for (const key of [entityType, ANY]) found.push(...(byEntity.get(key) ?? []))
    }
    found.sort((a, b) => a.rank - b.rank)
    // Entity types come from data, so cap the memo rather than let it grow without bound.
    if (memo.size < MAX_MEMO) memo.set(memoKey, found)
    return found
  }

  return Object.freeze({
    size: compiled.size,
    match (event: ObserverEvent): MatchedObserver[] {
      const result: MatchedObserver[] = []
      for (const entry of candidates(eventTypeOf(event), String(event.entity_type))) {
        if (entry.tenant !== null && entry.tenant !== event.tenant_id) continue
        if (safely(entry.condition, event, entry.matched.observer, options.onEvaluationError)) result.push(entry.matched)
      }
      return result
    },
    explain (observer: Observer, event: ObserverEvent): MatchExplanation {
      const known = compiled.get(observer)
      return explainWith(observer, event, () => known ?? compile(observer.condition_expression))
    }
  })
}
