// Ordered delivery per entity, on the reader's side. For an observer with `ordering = 'entity'`,
// the deliveries one event owes it form a group; the groups of one key (observer, entity_type,
// entity_id) run one after another in commit order, across batches too. A group that does not
// resolve (a retry is scheduled, or a dead letter holds the key) makes the key held: its later
// groups are parked, durably, until stored/parked-release.ts releases them in order. Keys that never
// fail cost a Map lookup: nothing is written for them.
import type { Observer, ObserverEvent, Settlement } from '../../model.js'
import type { Delivery } from '../delivery/delivery.js'
import type { AttemptResult } from '../delivery/attempt.js'
import { disposition, settle } from '../delivery/settling.js'

/** The deliveries one event owes one ordered observer. */
export interface OrderedGroup {
  key: string
  observer: Observer
  event: ObserverEvent
  deliveries: Delivery[]
  /** park it without running it: its key was held when it was planned, or it waits for an earlier-made change */
  parked: boolean
  /** parked until this listener has read an earlier-made change of the key (change-order.ts) */
  waitsFor?: { listenerId: string, txid: string, id: string }
}

export type GroupState = 'resolved' | 'blocked' | 'parked'

export interface GroupResult {
  group: OrderedGroup
  state: GroupState
  results: AttemptResult[]
}

export const keyOf = (observerId: string, entityType: string, entityId: string): string => `${observerId}\u0000${entityType}\u0000${entityId}`

/** A group resolves when every action succeeded, or was dead-lettered by an observer that skips dead letters; one waiting for its endpoint holds the key. */
export function stateOf (results: readonly AttemptResult[], observer: Observer): GroupState {
  for (const result of results) {
    const owed = disposition(result)
    if (owed === 'retry' || owed === 'defer' || (owed === 'dead_letter' && observer.on_dead_letter === 'block')) return 'blocked'
  }
  return 'resolved'
}

const RESOLVED: Promise<GroupState> = Promise.resolve('resolved')

export class KeyOrder {
  /** keys held in the database (or about to be, by a batch in flight): their events are parked */
  private held = new Set<string>()
  /** the last group of each key still in flight: the next one runs after it */
  private readonly tails = new Map<string, Promise<GroupState>>()
  /** groups parked per held key since it was loaded (a key is freed only if none came meanwhile) */
  private readonly parks = new Map<string, number>()
  /** parks whose batch has not committed yet: the database does not show them, so the key stays held */
  private readonly uncommitted = new Map<string, number>()

  /** Back to what the database holds (after a restart, a lost lease or a discarded batch). */
  reset (keys: ReadonlyArray<{ observer_id: string, entity_type: string, entity_id: string }>): void {
    this.held = new Set(keys.map((k) => keyOf(k.observer_id, k.entity_type, k.entity_id)))
    this.tails.clear()
    this.parks.clear()
    this.uncommitted.clear()
  }

  isHeld (key: string): boolean { return this.held.has(key) }

  get heldCount (): number { return this.held.size }

  /**
   * Runs a group after the previous group of its key; parks it if that one did not resolve or the
   * key is held when its turn comes: a group starts after its batch's change-order check, by when
   * the key it was planned against may have become held and its blocker's tail be gone.
   */
  run (group: OrderedGroup, execute: (deliveries: Delivery[]) => Promise<AttemptResult[]>): Promise<GroupResult> {
    const { key } = group
    const previous = this.tails.get(key) ?? RESOLVED
    const result = previous.then((before): GroupResult | Promise<GroupResult> => {
      if (group.parked || before !== 'resolved' || this.held.has(key)) return this.parked(group)
      return execute(group.deliveries).then((results) => {
        const state = stateOf(results, group.observer)
        if (state === 'blocked') this.held.add(key)
        return { group, state, results }
      })
    })
    const state = result.then((r) => r.state, () => 'blocked' as const)
    this.tails.set(key, state)
    state.then(() => { if (this.tails.get(key) === state) this.tails.delete(key) }, () => {})
    return result
  }

  private parked (group: OrderedGroup): GroupResult {
    this.held.add(group.key)
    this.parks.set(group.key, (this.parks.get(group.key) ?? 0) + 1)
    this.uncommitted.set(group.key, (this.uncommitted.get(group.key) ?? 0) + 1)
    return { group, state: 'parked', results: [] }
  }

  /** The batch that parked these keys' groups committed: its parks are in the database now. */
  parksCommitted (keys: readonly string[]): void {
    for (const key of keys) {
      const left = (this.uncommitted.get(key) ?? 1) - 1
      if (left > 0) this.uncommitted.set(key, left)
      else this.uncommitted.delete(key)
    }
  }

  /** A park of `key` is in a batch not committed yet: the key must not be freed. */
  parkPending (key: string): boolean { return this.uncommitted.has(key) }

  /** How many groups of `key` were parked so far (read before freeing it). */
  parkedSoFar (key: string): number { return this.parks.get(key) ?? 0 }

  /** The key's row is gone: its events run again, unless something was parked since `seenParks`. */
  free (key: string, seenParks: number): void {
    if (this.parkedSoFar(key) !== seenParks || this.tails.has(key) || this.uncommitted.has(key)) return
    this.held.delete(key)
    this.parks.delete(key)
  }
}

/** What the groups owe: their attempts settled as usual, plus the keys they hold and the events they park. */
export function settleGroups (groups: readonly GroupResult[], into: Settlement, now = new Date()): Settlement {
  for (const { group, state, results } of groups) {
    const { observer, event } = group
    const key = { observer_id: observer.id, entity_type: event.entity_type, entity_id: event.entity_id }
    if (state === 'parked') {
      const waits = group.waitsFor === undefined ? {} : { waits_for_listener: group.waitsFor.listenerId, waits_for_txid: group.waitsFor.txid, waits_for_change_log_id: group.waitsFor.id }
      into.parked.push({ ...key, event_id: event.event_id, change_log_id: event.change_log_id, event, ...waits })
      into.holds.push({ ...key, blocking_event_id: null, blocking_change_log_id: null })
      continue
    }
    settle(results, now, Math.random, into)
    if (state === 'blocked') into.holds.push({ ...key, blocking_event_id: event.event_id, blocking_change_log_id: event.change_log_id })
  }
  return into
}
