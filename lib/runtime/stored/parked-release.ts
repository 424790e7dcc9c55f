// Releases the events parked behind held keys of ordered observers once what blocked a key has
// resolved: one event per key at a time, in change-log id order. A released event that
// fails blocks its key again. It runs where the listener's lease is held, beside the read loop,
// whose key order knows which keys are held and what is parked but not yet committed.
import { setTimeout as sleep } from 'node:timers/promises'
import { findObserversById, type StoredObserver } from '../../db/observers.repo.js'
import { freeKeyIfEmpty, releasableKeys, type ReleasableKey } from '../../db/ordering.repo.js'
import { recordError, type RuntimeContext } from '../context.js'
import type { Delivery } from '../delivery/delivery.js'
import { parseStoredEvent } from '../delivery/event.js'
import { resolveRetryConfig } from '../delivery/retry-policy.js'
import type { LeaseFence } from '../../db/stored.repo.js'
import type { Slice } from '../../db/change-log.repo.js'
import type { Waker } from '../primitives/waker.js'
import { keyOf, type KeyOrder } from '../read-path/ordering.js'
import { notRun } from './load-stored.js'
import { runStored, type Problem, type StoredWork } from './run-stored.js'

/** Until `signal` aborts: a round whenever a blocking delivery may have resolved (NOTIFY), at least every second. */
export async function releaseLoop (ctx: RuntimeContext, keys: { readonly reading: boolean, readonly order: KeyOrder, readonly stream: { slice?: Slice }, lease: () => LeaseFence }, waker: Waker, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const released = keys.reading && keys.order.heldCount > 0 ? await releaseRound(ctx, keys.order, keys.lease(), keys.stream.slice) : 0
      if (released === 0) await waker.sleep(1000, signal)
    } catch (err) {
      recordError(ctx, err, {}, 'releasing parked events failed; retrying')
      await sleep(1000, undefined, { signal, ref: false }).catch(() => {})
    }
  }
}

/** Releases the next parked event of every releasable key under `lease`; returns how many keys moved on. */
export async function releaseRound (ctx: RuntimeContext, order: KeyOrder, lease: LeaseFence, slice?: Slice): Promise<number> {
  const keys = await releasableKeys(ctx.db, ctx.schema, ctx.options.runtime.batchSize, slice)
  if (keys.length === 0) return 0
  const observers = await findObserversById(ctx.db, [...new Set(keys.map((k) => k.observer_id))])
  const work: StoredWork[] = []
  for (const key of keys) {
    if (key.parked === null) {
      // nothing waits in the database; the key is free unless a batch in flight parked behind it,
      // or something was parked since it was read
      const id = keyOf(key.observer_id, key.entity_type, key.entity_id)
      if (order.parkPending(id)) continue
      const seen = order.parkedSoFar(id)
      if (await freeKeyIfEmpty(ctx.db, key)) order.free(id, seen)
      continue
    }
    work.push(released(ctx, key, observers.get(key.observer_id)))
  }
  await runStored(ctx, work, { fence: lease })
  return keys.length
}

/** The parked event of `key` as the group it runs, or why it cannot run (one `cancelled` log row per action it owed). */
function released (ctx: RuntimeContext, key: ReleasableKey, observer: StoredObserver | undefined): StoredWork {
  const parked = key.parked as NonNullable<ReleasableKey['parked']>
  const claim = { from: 'parked', pk: parked.pk_observer_parked } as const
  const event = parseStoredEvent(parked.event)
  let problem: Problem | undefined
  if ('problem' in event) problem = { code: 'INVALID_EVENT', message: event.problem }
  else if (observer === undefined || observer.deleted_at !== null || !key.observer_live) problem = { code: 'OBSERVER_DELETED', message: 'the observer was deleted' }
  if (problem !== undefined || observer === undefined || 'problem' in event) {
    const failed = problem as Problem
    ctx.log.warn({ observer_id: key.observer_id, event_id: parked.event_id, entity_type: key.entity_type, entity_id: key.entity_id, code: failed.code }, `parked event not run: ${failed.message}`)
    const actions = Math.max(observer?.actions.length ?? 1, 1)
    const logs = Array.from({ length: actions }, (_, actionIndex) => notRun({ observer_id: key.observer_id, action_index: actionIndex, attempt: 1 }, event, failed))
    return { claim, deliveries: [], problem: { ...failed, logs } }
  }
  const retry = resolveRetryConfig(observer.retry_config)
  const deliveries: Delivery[] = observer.actions.map((action, actionIndex) => ({ event, observer, retry, actionIndex, action, attempt: 1, origin: 'change_log' }))
  return { claim, deliveries, group: { key: keyOf(key.observer_id, key.entity_type, key.entity_id), observer, event, deliveries, parked: false } }
}
