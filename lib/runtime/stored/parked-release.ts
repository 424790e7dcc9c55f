// Releases the events parked behind held keys of ordered observers once what blocked a key has
// resolved: one event per key at a time, in change-log id order. A released event that
// fails blocks its key again. It runs where the listener's lease is held, beside the read loop,
// whose key order knows which keys are held and what is parked but not yet committed.
import { setTimeout as sleep } from 'node:timers/promises'
import { findLiveObservers } from '../../db/observers.repo.js'
import { freeKeyIfEmpty, releasableKeys, type ReleasableKey } from '../../db/ordering.repo.js'
import type { Observer } from '../../model.js'
import { recordError, type RuntimeContext } from '../context.js'
import type { Delivery } from '../delivery/delivery.js'
import { parseStoredEvent } from '../delivery/event.js'
import { resolveRetryConfig } from '../delivery/retry-policy.js'
import type { Waker } from '../primitives/waker.js'
import { keyOf, type KeyOrder } from '../read-path/ordering.js'
import { runStored, type StoredWork } from './run-stored.js'

/** Until `signal` aborts: a round whenever a blocking delivery may have resolved (NOTIFY), at least every second. */
export async function releaseLoop (ctx: RuntimeContext, keys: { readonly reading: boolean, readonly order: KeyOrder }, waker: Waker, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const released = keys.reading && keys.order.heldCount > 0 ? await releaseRound(ctx, keys.order) : 0
      if (released === 0) await waker.sleep(1000, signal)
    } catch (err) {
      recordError(ctx, err, {}, 'releasing parked events failed; retrying')
      await sleep(1000, undefined, { signal, ref: false }).catch(() => {})
    }
  }
}

/** Releases the next parked event of every releasable key; returns how many keys moved on. */
export async function releaseRound (ctx: RuntimeContext, order: KeyOrder): Promise<number> {
  const keys = await releasableKeys(ctx.db, ctx.schema, ctx.options.runtime.batchSize)
  if (keys.length === 0) return 0
  const observers = await findLiveObservers(ctx.db, [...new Set(keys.map((k) => k.observer_id))])
  const work: StoredWork[] = []
  for (const key of keys) {
    if (key.parked === null) {
      // nothing waits any more: the key is free, unless something was parked since it was read
      const seen = order.parkedSoFar(keyOf(key.observer_id, key.entity_type, key.entity_id))
      if (await freeKeyIfEmpty(ctx.db, key)) order.free(keyOf(key.observer_id, key.entity_type, key.entity_id), seen)
      continue
    }
    work.push(released(ctx, key, key.observer_live ? observers.get(key.observer_id) : undefined))
  }
  await runStored(ctx, work)
  return keys.length
}

/** The parked event of `key` as the group it runs, or why it cannot run. */
function released (ctx: RuntimeContext, key: ReleasableKey, observer: Observer | undefined): StoredWork {
  const parked = key.parked as NonNullable<ReleasableKey['parked']>
  const claim = { from: 'parked', pk: parked.pk_observer_parked } as const
  const event = parseStoredEvent(parked.event)
  if (observer === undefined || 'problem' in event) {
    const why = 'problem' in event ? event.problem : 'the observer was deleted'
    ctx.log.warn({ observer_id: key.observer_id, event_id: parked.event_id, entity_type: key.entity_type, entity_id: key.entity_id }, `parked event dropped: ${why}`)
    return { claim, deliveries: [], problem: { code: 'problem' in event ? 'INVALID_EVENT' : 'OBSERVER_GONE', message: why } }
  }
  const retry = resolveRetryConfig(observer.retry_config)
  const deliveries: Delivery[] = observer.actions.map((action, actionIndex) => ({ event, observer, retry, actionIndex, action, attempt: 1, origin: 'change_log' }))
  return { claim, deliveries, group: { key: keyOf(key.observer_id, key.entity_type, key.entity_id), observer, event, deliveries, parked: false } }
}
