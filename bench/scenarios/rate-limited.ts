// rate-limited (SPEC 9.3): one observer whose webhook carries `rate_limit: { per_second: 50 }`
// (burst 1) over a backlog the runtime could otherwise send at thousands a second. Figure: the
// rate the sink saw, from its first delivery to its last (target: 50/s within 5 %), and the
// densest second, which shows whether the limit holds at every moment and not only on average.
import type { BenchContext } from '../app.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { drain, type DrainResult } from './drain.js'

export const RATE_LIMIT = { per_second: 50 }

export interface RateLimitedResult extends DrainResult {
  rate_limit: typeof RATE_LIMIT
  /** deliveries after the first ÷ seconds from the first to the last (sink clock) */
  measured_per_s: number
  /** most deliveries within any one second */
  densest_second: number
}

export async function rateLimited (ctx: BenchContext, sink: Sink): Promise<RateLimitedResult> {
  // about 20 s at the limit (5 s with --quick)
  const events = (ctx.quick ? 5 : 20) * RATE_LIMIT.per_second
  const result = await drain(ctx, sink, { name: 'rate_limited', events, observers: 1, action: { rate_limit: RATE_LIMIT }, sink: { keepTimes: true } })
  const times = (await sink.times()).map(([, at]) => at).sort((a, b) => a - b)
  let densest = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 1000) j++
    densest = Math.max(densest, i - j + 1)
  }
  const span = times.length > 1 ? (times[times.length - 1] - times[0]) / 1000 : 0
  return { ...result, rate_limit: RATE_LIMIT, measured_per_s: span > 0 ? round((times.length - 1) / span, 2) : 0, densest_second: densest }
}
