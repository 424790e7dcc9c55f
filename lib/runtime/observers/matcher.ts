// Which observers an event triggers (SPEC section 4 "Matching"). Observers are indexed by
// (event_type or any) × (entity_type or wildcard) × (tenant or global); an event looks up at most
// eight buckets and merges them in priority order, memoised per (event_type, entity_type, tenant). The index is patched by
// observer (a reload costs what changed); a patch is synchronous, and so is the planning of a
// batch, so no batch sees half a change.
import { compileCondition, type CompiledCondition } from '../../condition/index.js'
import type { Observer, ObserverEvent, RetryConfig } from '../../model.js'
import { resolveRetryConfig } from '../delivery/retry-policy.js'
import { SharedConditions } from './conditions.js'
import { ANY, entityKey, eventKey, eventTypeOf, explainWith, isLive, safely, tenantKey, type MatchExplanation } from './rules.js'
import { ThreeKeys } from './three-keys.js'

export { explainMatch, type MatchExplanation, type MismatchReason } from './rules.js'

export interface MatchedObserver {
  readonly observer: Observer
  /** The observer's retry_config over DEFAULT_RETRY_CONFIG. */
  readonly retry: Readonly<RetryConfig>
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
  readonly priority: number
  readonly createdMs: number
  readonly id: string
  readonly condition: CompiledCondition
  readonly matched: MatchedObserver
  /** the row version it was loaded at (0 when unknown) */
  readonly version: number
}

const MAX_MEMO = 10_000
/** Beyond this many changes at once the buckets are rebuilt and sorted once rather than patched. */
const PATCH_AT_MOST = 1000

// most observers keep the defaults: they share one frozen copy
const DEFAULT_RETRY = Object.freeze(resolveRetryConfig(null))

function byPriority (a: Entry, b: Entry): number {
  return a.priority - b.priority || a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/** Inserts into a sorted bucket at its place (binary search). */
function insertSorted (bucket: Entry[], entry: Entry): void {
  let lo = 0
  let hi = bucket.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (byPriority(bucket[mid], entry) < 0) lo = mid + 1
    else hi = mid
  }
  bucket.splice(lo, 0, entry)
}

/** The candidates of up to eight sorted buckets, merged in priority order. */
function merged (lists: Entry[][]): Entry[] {
  if (lists.length === 0) return []
  if (lists.length === 1) return lists[0]
  return lists.flat().sort(byPriority)
}

/**
 * The matcher's index, patched in place: `apply` upserts and removes observers by id. Never throws:
 * an observer whose condition does not compile is reported and left out.
 */
export class ObserverIndex implements Matcher {
  private readonly buckets = new ThreeKeys<Entry[]>()
  private readonly entries = new Map<string, Entry>()
  /** (event type, entity type, tenant) → candidates; forgotten where a patch lands */
  private readonly memo = new ThreeKeys<Entry[]>()
  private readonly conditions: SharedConditions

  constructor (private readonly options: MatcherOptions = {}) {
    this.conditions = new SharedConditions(options.compile ?? compileCondition)
  }

  get size (): number { return this.entries.size }

  /** The indexed observer of this id (enabled, live, with a valid condition). */
  get (id: string): Observer | undefined { return this.entries.get(id)?.matched.observer }

  /** The row version the indexed observer was loaded at; undefined when it is not indexed. */
  versionOf (id: string): number | undefined { return this.entries.get(id)?.version }

  /** Every indexed observer, in no particular order. */
  * observers (): IterableIterator<Observer> {
    for (const entry of this.entries.values()) yield entry.matched.observer
  }

  /**
   * Puts `upserts` in (replacing any entry of the same id; one not live leaves the index) and
   * takes `removals` out. With `replaceAll`, observers not in `upserts` leave too. An upsert of the
   * very object already indexed changes nothing.
   */
  apply (upserts: ReadonlyArray<{ observer: Observer, version?: number }>, removals: readonly string[] = [], replaceAll = false): void {
    // many changes at once: entries change first, then every bucket is filtered and sorted once
    const changed = upserts.filter(({ observer }) => this.entries.get(observer.id)?.matched.observer !== observer)
    const leaving = [...removals]
    if (replaceAll) {
      const kept = new Set(upserts.map(({ observer }) => observer.id))
      for (const id of this.entries.keys()) if (!kept.has(id)) leaving.push(id)
    }
    const rebuild = changed.length + leaving.length > Math.max(PATCH_AT_MOST, this.entries.size / 10)
    // conditions are released last, so an observer that stays keeps its compiled one
    const gone: Entry[] = []
    const out = (id: string): void => {
      const entry = this.drop(id, !rebuild)
      if (entry !== undefined) gone.push(entry)
    }
    for (const id of leaving) out(id)
    for (const { observer, version } of changed) {
      out(observer.id)
      const entry = this.entryOf(observer, version ?? 0)
      if (entry !== undefined) this.place(entry, !rebuild)
    }
    for (const entry of gone) this.conditions.release(entry.matched.observer.condition_expression)
    if (!rebuild) return
    for (const [ev, entity, tenant, bucket] of [...this.buckets.entries()]) {
      const kept = bucket.filter((entry) => this.entries.get(entry.id) === entry).sort(byPriority)
      if (kept.length > 0) this.buckets.set(ev, entity, tenant, kept)
      else this.buckets.delete(ev, entity, tenant)
    }
    this.memo.clear()
  }

  private entryOf (observer: Observer, version: number): Entry | undefined {
    if (!isLive(observer)) return undefined
    let condition: CompiledCondition
    try {
      condition = this.conditions.take(observer.condition_expression)
    } catch (err) {
      try {
        this.options.onInvalid?.(observer, err)
      } catch {
        // A failing reporter must not take the whole index down with it.
      }
      return undefined
    }
    const retry = observer.retry_config === null || observer.retry_config === undefined ? DEFAULT_RETRY : Object.freeze(resolveRetryConfig(observer.retry_config))
    return {
      priority: observer.priority,
      createdMs: observer.created_at.getTime(),
      id: observer.id,
      condition,
      matched: Object.freeze({ observer, retry }),
      version
    }
  }

  private keysOf (observer: Observer): [string, string, string] {
    return [eventKey(observer.event_type), entityKey(observer.entity_type), tenantKey(observer.tenant_id)]
  }

  private place (entry: Entry, sorted: boolean): void {
    const keys = this.keysOf(entry.matched.observer)
    const bucket = this.buckets.get(...keys)
    if (bucket === undefined) this.buckets.set(...keys, [entry])
    else if (sorted) insertSorted(bucket, entry)
    else bucket.push(entry)
    this.entries.set(entry.id, entry)
    if (sorted) this.memo.deleteCovered(...keys)
  }

  /** Takes the entry of `id` out; `patch`: out of its bucket too (else the rebuild filters it). */
  private drop (id: string, patch: boolean): Entry | undefined {
    const entry = this.entries.get(id)
    if (entry === undefined) return
    this.entries.delete(id)
    if (!patch) return entry
    const keys = this.keysOf(entry.matched.observer)
    const bucket = this.buckets.get(...keys)
    if (bucket === undefined) return entry
    const at = bucket.indexOf(entry)
    if (at >= 0) bucket.splice(at, 1)
    if (bucket.length === 0) this.buckets.delete(...keys)
    this.memo.deleteCovered(...keys)
    return entry
  }

  private candidates (eventType: string, entityType: string, tenant: string | null): Entry[] {
    const memoTenant = tenant ?? ANY
    const hit = this.memo.get(eventType, entityType, memoTenant)
    if (hit !== undefined) return hit
    const lists: Entry[][] = []
    for (const ev of [eventType, ANY]) {
      for (const entity of [entityType, ANY]) {
        // an event without a tenant reaches the global observers only
        for (const t of tenant === null ? [ANY] : [tenant, ANY]) {
          const bucket = this.buckets.get(ev, entity, t)
          if (bucket !== undefined) lists.push(bucket)
        }
      }
    }
    const found = merged(lists)
    // Entity types and tenants come from data, so cap the memo rather than let it grow without bound.
    if (this.memo.size < MAX_MEMO) this.memo.set(eventType, entityType, memoTenant, found)
    return found
  }

  match (event: ObserverEvent): MatchedObserver[] {
    const result: MatchedObserver[] = []
    const tenant = typeof event.tenant_id === 'string' ? event.tenant_id : null
    for (const entry of this.candidates(eventTypeOf(event), String(event.entity_type), tenant)) {
      if (safely(entry.condition, event, entry.matched.observer, this.options.onEvaluationError)) result.push(entry.matched)
    }
    return result
  }

  explain (observer: Observer, event: ObserverEvent): MatchExplanation {
    const entry = this.entries.get(observer.id)
    const known = entry?.matched.observer === observer ? entry.condition : undefined
    return explainWith(observer, event, () => known ?? (this.options.compile ?? compileCondition)(observer.condition_expression))
  }
}

/** A matcher over `observers` that nothing changes afterwards. Never throws (see ObserverIndex). */
export function buildMatcher (observers: readonly Observer[], options: MatcherOptions = {}): Matcher {
  const index = new ObserverIndex(options)
  index.apply(observers.map((observer) => ({ observer })), [], true)
  return Object.freeze({
    size: index.size,
    match: (event: ObserverEvent) => index.match(event),
    explain: (observer: Observer, event: ObserverEvent) => index.explain(observer, event)
  })
}
