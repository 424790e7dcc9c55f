// slow-endpoint (SPEC 7 and 9.3): 10 observers of the same events, 9 sending to the sink and one to
// an endpoint that answers every request after 2 s. The slow one may hold only
// `maxInFlightPerEndpoint` of the `concurrency` slots; what it cannot take waits durably (no
// attempt used) so that its batches commit. Figure: the 9 fast observers' rate against the same 9
// alone, drained just before in the same process (target ≥ 0.9 ×), and what the slow endpoint got
// meanwhile (at 8 slots and 2 s, 4 requests a second at most).
import type { BenchContext } from '../app.js'
import { startSink, type Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { drainBeside, type NeighbourResult } from './neighbour.js'

const HEALTHY = 9
const SLOW_MS = 2000

export interface SlowEndpointResult {
  baseline: NeighbourResult
  slow: NeighbourResult
  /** fast deliveries/s beside the slow endpoint ÷ without it */
  fast_to_baseline: number
  slow_answer_ms: number
  /** requests the slow endpoint got while the fast deliveries drained, per second */
  slow_requests_per_s: number
}

export async function slowEndpoint (ctx: BenchContext, sink: Sink): Promise<SlowEndpointResult> {
  // fewer than the dead endpoint's: today the slow run takes several times the baseline (bench/README.md)
  const events = ctx.quick ? 500 : 2_000
  const slowSink = await startSink()
  try {
    // the first drain of a process pays for the JIT
    await drainBeside(ctx, sink, { name: 'slow_endpoint_warmup', events: 1_000, healthy: HEALTHY })
    const baseline = await drainBeside(ctx, sink, { name: 'slow_endpoint_baseline', events, healthy: HEALTHY })
    const slow = await drainBeside(ctx, sink, {
      name: 'slow_endpoint',
      events,
      healthy: HEALTHY,
      neighbour: { sink: slowSink, answers: { delayMs: SLOW_MS } }
    })
    const n = slow.neighbour
    if (n !== null && n.db.dead_letters > 0) slow.correctness.problems.push(`${n.db.dead_letters} deliveries to the slow endpoint were dead-lettered`)
    if (n !== null && n.sink.duplicates > 0) slow.correctness.problems.push(`${n.sink.duplicates} deliveries to the slow endpoint arrived more than once`)
    slow.correctness.ok &&= n !== null && n.db.dead_letters === 0
    const during = (n?.request_times_ms ?? []).filter((t) => t <= slow.seconds * 1000).length
    return {
      baseline,
      slow,
      fast_to_baseline: round(slow.deliveries_per_s / baseline.deliveries_per_s, 3),
      slow_answer_ms: SLOW_MS,
      slow_requests_per_s: round(during / slow.seconds, 2)
    }
  } finally {
    await slowSink.stop()
  }
}
