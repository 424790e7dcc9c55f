// rate-limited (SPEC 9.3): one observer whose webhook carries `rate_limit: { per_second: 50 }`
// (burst 1) over a backlog the runtime could otherwise send at thousands a second. Figure: the
// rate the sink saw, from its first delivery to its last (target: 50/s within 5 %), and the
// densest second, which shows whether the limit holds at every moment and not only on average.
import type { BenchContext } from '../app.js'
import type { Sink } from '../sink-client.js'
import { distribution, round, type Distribution } from '../stats.js'
import { drain, type DrainResult } from './drain.js'

export const RATE_LIMIT = { per_second: 50 }

export interface RateLimitedResult extends DrainResult {
  rate_limit: typeof RATE_LIMIT
  /** deliveries after the first ÷ seconds from the first to the last (sink clock) */
  measured_per_s: number
  /** most deliveries within any one second */
  densest_second: number
  /** time between two consecutive deliveries at the sink (20 ms at 50/s), and how many came under half of that */
  interval_ms: Distribution
  intervals_under_half: number
}

export async function rateLimited (ctx: BenchContext, sink: Sink): Promise<RateLimitedResult> {
  // about 20 s at the limit (5 s with --quick)
  const events = (ctx.quick ? 5 : 20) * RATE_LIMIT.per_second
  const result = await drain(ctx, sink, { name: 'rate_limited', events, observers: 1, action: { rate_limit: RATE_LIMIT }, sink: { keepTimes: true }, waitsDurably: true })
  const times = (await sink.times()).map(([, at]) => at).sort((a, b) => a - b)
  let densest = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 1000) j++
    densest = Math.max(densest, i - j + 1)
  }
  const span = times.length > 1 ? (times[times.length - 1] - times[0]) / 1000 : 0
  const intervals = times.slice(1).map((at, i) => at - times[i])
  return {
    ...result,
    rate_limit: RATE_LIMIT,
    measured_per_s: span > 0 ? round((times.length - 1) / span, 2) : 0,
    densest_second: densest,
    interval_ms: distribution(intervals),
    intervals_under_half: intervals.filter((ms) => ms < 500 / RATE_LIMIT.per_second).length
  }
}
