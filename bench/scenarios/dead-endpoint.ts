// dead-endpoint (SPEC 7 and 9.3): 10 observers of the same events, 9 sending to the sink and one to
// an endpoint answering 503 to everything, with a retry policy that would keep retrying (100
// attempts, at most 1 s apart). Its circuit should open after the first failures; from then on its
// deliveries wait without an attempt and only a probe per cool-down reaches it. Figures: the 9
// healthy observers' rate against the same 9 alone, drained just before in the same process, and
// the requests the dead endpoint gets once open, watched until the first probe is due + 5 s
// (the default cool-down is 30 s; --quick uses 2 s so that a smoke run sees a probe). Attempts
// admitted before the circuit opened can reach the endpoint just after: the requests of the first
// second are counted apart.
import { setTimeout as sleep } from 'node:timers/promises'
import type { BenchContext } from '../app.js'
import { now } from '../clock.js'
import { endpointRow } from '../data.js'
import { startSink, type Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { drainBeside, type NeighbourResult } from './neighbour.js'

const KEEP_RETRYING = { max_attempts: 100, backoff_strategy: 'exponential', initial_delay_ms: 100, max_delay_ms: 1000, jitter: true }
const HEALTHY = 9
/** attempts admitted before the circuit opened (waiting for a concurrency slot) arrive within this of it */
const ADMITTED_MS = 1000

export interface DeadEndpointResult {
  baseline: NeighbourResult
  dead: NeighbourResult
  /** healthy deliveries/s beside the dead endpoint ÷ without it */
  healthy_to_baseline: number
  cool_down_ms: number
  /** requests at the dead endpoint before its circuit opened, within a second after (admitted before), and later */
  requests_before_open: number
  requests_first_second_open: number
  requests_later: number
  /** ms after opening at which each request after it arrived (the first 1 000) */
  after_open_ms: number[]
  /** requests_later per minute of the watch from a second after opening (probes only, if all is well) */
  requests_per_minute_open: number | null
}

export async function deadEndpoint (ctx: BenchContext, sink: Sink): Promise<DeadEndpointResult> {
  const options = ctx.code.resolveOptions({ connectionString: ctx.url, auth: false, runtime: ctx.runtime }).runtime
  const breaker = options.circuitBreaker === false ? false as const : { ...options.circuitBreaker, ...(ctx.quick ? { coolDownMs: 2000 } : {}) }
  // with the breaker turned off (--runtime) the dead endpoint is watched as long, for comparison
  const coolDownMs = breaker === false ? 30_000 : breaker.coolDownMs
  const run = { ...ctx, runtime: { ...ctx.runtime, circuitBreaker: breaker } }
  const events = ctx.quick ? 1_000 : 4_000
  const dead = await startSink()
  try {
    // the first drain of a process pays for the JIT
    await drainBeside(run, sink, { name: 'dead_endpoint_warmup', events: 1_000, healthy: HEALTHY })
    const baseline = await drainBeside(run, sink, { name: 'dead_endpoint_baseline', events, healthy: HEALTHY })
    const result = await drainBeside(run, sink, {
      name: 'dead_endpoint',
      events,
      healthy: HEALTHY,
      neighbour: {
        sink: dead,
        answers: { status: 503 },
        retryConfig: KEEP_RETRYING,
        watch: async (bench, endpoint) => {
          const openedAt = (await endpointRow(ctx.pool, bench.schema, endpoint))?.opened_at ?? now()
          ctx.progress(`dead_endpoint: watching the dead endpoint until its first probe is due + 5 s (${Math.round((openedAt + coolDownMs + 5000 - now()) / 1000)} s)`)
          await sleep(Math.max(0, openedAt + coolDownMs + 5000 - now()))
        }
      }
    })
    const n = result.neighbour
    const opened = n?.opened_ms ?? null
    const after = n?.after_open_ms ?? []
    if (n !== null && n.db.dead_letters > 0) result.correctness.problems.push(`${n.db.dead_letters} deliveries to the dead endpoint were dead-lettered`)
    if (n !== null && n.db.retries_pending !== events) result.correctness.problems.push(`${n.db.retries_pending} of ${events} deliveries to the dead endpoint waiting`)
    if (opened === null) result.correctness.problems.push('the dead endpoint\'s circuit never opened')
    result.correctness.ok &&= n !== null && n.db.dead_letters === 0 && n.db.retries_pending === events && opened !== null
    const firstSecond = after.filter((t) => t < ADMITTED_MS).length
    const later = (n?.requests_after_open ?? 0) - firstSecond
    const watchedMin = n === null || opened === null ? 0 : (n.watched_ms - opened - ADMITTED_MS) / 60_000
    return {
      baseline,
      dead: result,
      healthy_to_baseline: round(result.deliveries_per_s / baseline.deliveries_per_s, 3),
      cool_down_ms: coolDownMs,
      requests_before_open: n?.requests_before_open ?? 0,
      requests_first_second_open: firstSecond,
      requests_later: later,
      after_open_ms: after,
      requests_per_minute_open: watchedMin > 0 ? round(later / watchedMin, 2) : null
    }
  } finally {
    await dead.stop()
  }
}
