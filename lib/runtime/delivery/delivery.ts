// One delivery = one action of one matched observer for one event; its idempotency key.
import { hash } from 'node:crypto'
import type { ActionConfig, Observer, ObserverEvent, RetryConfig } from '../../model.js'

/** Where a delivery comes from: the change log (the read path) or a stored delivery run again. */
export type DeliveryOrigin = 'change_log' | 'retry' | 'dead_letter'

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
  origin: DeliveryOrigin
}

/**
 * Stable for one (event, observer, action): the same on every retry, dead-letter retry and replay,
 * so receivers can deduplicate. Sent as `webhook-id` and `Idempotency-Key`.
 */
export function idempotencyKey (eventId: string, observerId: string, actionIndex: number): string {
  return 'msg_' + hash('sha256', `${eventId}:${observerId}:${actionIndex}`, 'base64url').slice(0, 32)
}
