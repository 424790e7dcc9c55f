// One delivery = one action of one matched observer for one event; its idempotency key.
import { hash } from 'node:crypto'
import type { ActionConfig, Observer, ObserverEvent, RetryConfig } from '../model.js'

export interface Delivery {
  event: ObserverEvent
  observer: Observer
  retry: RetryConfig
  actionIndex: number
  action: ActionConfig
  /** 1-based number of the attempt about to run */
  attempt: number
  /** when the first attempt failed (for retries and dead letters) */
  firstFailedAt?: Date
}

/**
 * Stable for one (event, observer, action): the same on every retry, dead-letter retry and replay,
 * so receivers can deduplicate. Sent as `webhook-id` and `Idempotency-Key`.
 */
export function idempotencyKey (eventId: string, observerId: string, actionIndex: number): string {
  // one-shot hash(): no Hash object per delivery
  return 'msg_' + hash('sha256', `${eventId}:${observerId}:${actionIndex}`, 'base64url').slice(0, 32)
}

/** Every delivery a matched event owes, observers in priority order, actions in their order. */
export function deliveriesFor (event: ObserverEvent, matched: ReadonlyArray<{ observer: Observer, retry: RetryConfig }>, out: Delivery[]): void {
  for (const { observer, retry } of matched) {
    const actions = observer.actions
    for (let i = 0; i < actions.length; i++) {
      out.push({ event, observer, retry, actionIndex: i, action: actions[i], attempt: 1 })
    }
  }
}
