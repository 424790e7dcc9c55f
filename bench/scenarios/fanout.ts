// fan-out: 10 observers matching every event, 10 % of attempts answered 500 and retried.
// The sink fails only first and second attempts (deterministically, by a hash of delivery and
// attempt), so with max_attempts 5 every delivery must end up delivered: none may be dead-lettered.
import type { BenchContext } from '../app.js'
import type { Sink } from '../sink-client.js'
import { drain, type DrainResult } from './drain.js'

export const FANOUT_RETRY = { max_attempts: 5, backoff_strategy: 'exponential', initial_delay_ms: 100, max_delay_ms: 1000, jitter: true }

export async function fanout (ctx: BenchContext, sink: Sink): Promise<DrainResult & { failure_fraction: number, retry_config: object }> {
  const failureFraction = 0.1
  const result = await drain(ctx, sink, {
    name: 'fanout',
    events: ctx.quick ? 2_000 : 10_000,
    observers: 10,
    retryConfig: FANOUT_RETRY,
    sink: { failureFraction, failUpTo: 2 }
  })
  return { ...result, failure_fraction: failureFraction, retry_config: FANOUT_RETRY }
}
