// Per key, an ordered observer gets the changes in the order they were made, which is change-log id
// order: the capture trigger inserts while the writer holds the row's lock, so a change made after
// another took its id after that one's transaction committed. The reader reads in (txid, id) order,
// and a transaction that waited on another's row lock may hold the lower txid. So, for the ordered
// groups of a batch: within the batch a key's groups run in id order, and a group with a change of
// its key made before it (lower id) but not read yet (higher txid) is parked until the listener has
// read that change; its key is then held, so the earlier change parks behind it and, released in id
// order, goes first. Why it holds: lib/runtime/README.md, "Per-key order".
import type { Kysely } from 'kysely'
import { unreadEarlierChanges, type KeySpan, type UnreadChange } from '../../db/change-order.repo.js'
import type { Position } from '../../db/change-log.repo.js'
import type { Database } from '../../db/types.js'
import type { ChangeLogRow } from '../../model.js'
import type { OrderedGroup } from './ordering.js'

const entityOf = (type: string, id: string): string => `${type}\u0000${id}`

/** Compares two non-negative integers written in decimal (ids and txids), without parsing them. */
const compare = (a: string, b: string): number => a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0

const later = (a: Position, b: Position): boolean => {
  const byTxid = compare(a.txid, b.txid)
  return byTxid !== 0 ? byTxid > 0 : compare(a.id, b.id) > 0
}

/** Sorts the groups into id order and parks those an unread, earlier-made change must precede. */
export async function orderByChange (db: Kysely<Database>, schema: string, listenerId: string, rows: readonly ChangeLogRow[], groups: OrderedGroup[]): Promise<void> {
  if (groups.length === 0) return
  const txids = new Map(rows.map((r) => [String(r.pk_entity_change_log), r.txid]))
  const unread = await unreadEarlierChanges(db, schema, listenerId, keySpans(groups, txids), [...txids.keys()])
  sortByChange(groups)
  if (unread.length > 0) parkBehind(groups, unread, txids, listenerId)
}

/**
 * Starts each batch's ordered groups once its check is done, batch after batch in read order:
 * KeyOrder chains a key's groups in the order they are run, and a later batch's check may end first.
 */
export class InReadOrder {
  private previous: Promise<unknown> = Promise.resolve()

  start<T> (ready: Promise<void> | undefined, run: () => Array<Promise<T>>): Promise<T[]> {
    // awaited only once the earlier batches have started: a failure meanwhile is not unhandled
    ready?.catch(() => {})
    const started = this.previous.then(async () => { await ready; return run() })
    this.previous = started.catch(() => {})
    return started.then(async (runs) => await Promise.all(runs))
  }
}

/** Per entity of the groups: the lowest txid and the highest id of its rows. */
export function keySpans (groups: readonly OrderedGroup[], txids: ReadonlyMap<string, string>): KeySpan[] {
  const spans = new Map<string, KeySpan>()
  for (const { event } of groups) {
    const id = event.change_log_id as string
    const txid = txids.get(id) as string
    const key = entityOf(event.entity_type, event.entity_id)
    const span = spans.get(key)
    if (span === undefined) spans.set(key, { objectType: event.entity_type, objectId: event.entity_id, minTxid: txid, maxId: id })
    else {
      if (compare(txid, span.minTxid) < 0) span.minTxid = txid
      if (compare(id, span.maxId) > 0) span.maxId = id
    }
  }
  return [...spans.values()]
}

/** Stable: an event's observers keep their priority order; a key's events run in id order. */
export function sortByChange (groups: OrderedGroup[]): void {
  groups.sort((a, b) => compare(a.event.change_log_id as string, b.event.change_log_id as string))
}

/**
 * A group waits for the furthest (in reading order) unread change of its key with a lower id and a
 * higher txid than its own row: once the listener has read that one, it has read them all.
 */
export function parkBehind (groups: readonly OrderedGroup[], unread: readonly UnreadChange[], txids: ReadonlyMap<string, string>, listenerId: string): void {
  const byEntity = new Map<string, UnreadChange[]>()
  for (const change of unread) {
    const key = entityOf(change.objectType, change.objectId)
    byEntity.set(key, [...(byEntity.get(key) ?? []), change])
  }
  for (const group of groups) {
    const changes = byEntity.get(entityOf(group.event.entity_type, group.event.entity_id))
    if (changes === undefined) continue
    const id = group.event.change_log_id as string
    const txid = txids.get(id) as string
    let last: UnreadChange | undefined
    for (const change of changes) {
      if (compare(change.id, id) < 0 && compare(change.txid, txid) > 0 && (last === undefined || later(change, last))) last = change
    }
    if (last === undefined) continue
    group.parked = true
    group.waitsFor = { listenerId, txid: last.txid, id: last.id }
  }
}
