// Ordered delivery per entity (SPEC 9.1), in one run so the rates compare:
// - ordered: 100 000 rows over 10 000 entities (10 events each), drained by an unordered observer
//   and then by an ordered one; the cost of ordering is the ratio of the two rates;
// - ordered-failing: the same with one entity whose endpoint answers 500 forever: its first event
//   holds the entity (one retry pending, 9 events parked), every other entity flows;
// - hot key: 2 000 events of one entity, ordered: one at a time, so bounded by the endpoint's
//   latency by design (reported, no target).
import type { BenchContext } from '../app.js'
import type { Sink } from '../sink-client.js'
import { drain, type DrainResult } from './drain.js'

const KEYS = 10_000
const FOREVER = { max_attempts: 100, backoff_strategy: 'exponential', initial_delay_ms: 100, max_delay_ms: 1000, jitter: true }

export interface OrderedResult {
  unordered: DrainResult
  ordered: DrainResult
  hot_key: DrainResult
  /** ordered ÷ unordered deliveries/s */
  ordered_to_unordered: number
}

export async function ordered (ctx: BenchContext, sink: Sink): Promise<OrderedResult> {
  const events = ctx.quick ? 20_000 : 100_000
  const keys = ctx.quick ? 2_000 : KEYS
  // both paths warmed up first: the first drain of a process pays for the JIT
  for (const ordering of ['none', 'entity'] as const) await drain(ctx, sink, { name: 'ordered_warmup', events: 5_000, observers: 1, keys, ordering })
  const unordered = await drain(ctx, sink, { name: 'ordered_baseline', events, observers: 1, keys })
  const orderedRun = await drain(ctx, sink, { name: 'ordered', events, observers: 1, keys, ordering: 'entity' })
  const hotKey = await drain(ctx, sink, { name: 'hot_key', events: ctx.quick ? 500 : 2_000, observers: 1, keys: 1, ordering: 'entity' })
  return { unordered, ordered: orderedRun, hot_key: hotKey, ordered_to_unordered: Math.round(orderedRun.deliveries_per_s / unordered.deliveries_per_s * 1000) / 1000 }
}

export async function orderedFailing (ctx: BenchContext, sink: Sink): Promise<DrainResult> {
  const events = ctx.quick ? 20_000 : 100_000
  const keys = ctx.quick ? 2_000 : KEYS
  return await drain(ctx, sink, {
    name: 'ordered_failing',
    events,
    observers: 1,
    keys,
    ordering: 'entity',
    retryConfig: FOREVER,
    // entity 1 (rows 1, 1 + keys, ...) never gets an answer but 500
    sink: { failEntity: '1' },
    heldDeliveries: events / keys
  })
}
