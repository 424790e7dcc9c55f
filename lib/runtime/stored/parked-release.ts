// Releases the events parked behind held keys of ordered observers once what blocked a key has
// resolved: one event per key at a time, in the order they were parked. A released event that
// fails blocks its key again. It runs where the listener's lease is held, beside the read loop,
// whose KeyOrder knows which keys are held and what is parked but not yet committed.
import { setTimeout as sleep } from 'node:timers/promises'
import { findLiveObservers } from '../../db/observers.repo.js'
import { freeKeyIfEmpty, releasableKeys, type ReleasableKey } from '../../db/ordering.repo.js'
import { commitSettlement } from '../../db/settlement.repo.js'
import type { Observer, ObserverEvent, Settlement } from '../../model.js'
import { recordError, warnDeadLetters, type RuntimeContext } from '../context.js'
import type { Delivery } from '../delivery/delivery.js'
import { parseStoredEvent } from '../delivery/event.js'
import { keyOf, settleGroups, stateOf, type GroupResult, type KeyOrder } from '../read-path/ordering.js'
import { resolveRetryConfig } from '../delivery/retry-policy.js'
import { emptySettlement } from '../delivery/settling.js'
import type { Waker } from '../primitives/waker.js'

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
  const released: string[] = []
  const groups: Array<Promise<GroupResult>> = []
  for (const key of keys) {
    const parked = key.parked
    if (parked === null) {
      // nothing waits any more: the key is free, unless something was parked since it was read
      const seen = order.parkedSoFar(keyOf(key.observer_id, key.entity_type, key.entity_id))
      if (await freeKeyIfEmpty(ctx.db, key)) order.free(keyOf(key.observer_id, key.entity_type, key.entity_id), seen)
      continue
    }
    released.push(parked.pk_observer_parked)
    const observer = observers.get(key.observer_id)
    const event = parseStoredEvent(parked.event)
    if (observer === undefined || !key.observer_live || 'problem' in event) {
      const why = 'problem' in event ? event.problem : 'the observer was deleted'
      ctx.log.warn({ observer_id: key.observer_id, event_id: parked.event_id, entity_type: key.entity_type, entity_id: key.entity_id }, `parked event dropped: ${why}`)
      continue
    }
    groups.push(run(ctx, key, observer, event))
  }
  const settlement: Settlement = settleGroups(await Promise.all(groups), emptySettlement())
  await commitSettlement(ctx.db, ctx.schema, settlement, { release: { retries: [], deadLetters: [], parked: released } })
  warnDeadLetters(ctx, settlement.deadLetters)
  return keys.length
}

async function run (ctx: RuntimeContext, key: ReleasableKey, observer: Observer, event: ObserverEvent): Promise<GroupResult> {
  const retry = resolveRetryConfig(observer.retry_config)
  const deliveries: Delivery[] = observer.actions.map((action, actionIndex) => ({ event, observer, retry, actionIndex, action, attempt: 1, origin: 'change_log' }))
  const group = { key: keyOf(key.observer_id, key.entity_type, key.entity_id), observer, event, deliveries, parked: false }
  const results = await ctx.executor.runAll(deliveries)
  return { group, state: stateOf(results, observer), results }
}
