// The HTTP load generator of the admin scenario, in a process of its own so that it does not
// share an event loop (or skew the latencies) with the server it measures.
import autocannon from 'autocannon'
import { serve } from './ipc.js'

export interface LoadRequest {
  url: string
  connections: number
  seconds: number
  /** seconds of the same load first, not counted (JIT, pool connections, plan caches) */
  warmupSeconds?: number
}

export interface LoadResult {
  requests: number
  requests_per_s: number
  /** ms; autocannon records whole milliseconds */
  latency_ms: { mean: number, p50: number, p90: number, p99: number, max: number }
  non_2xx: number
  errors: number
  timeouts: number
}

serve({
  run: async ({ url, connections, seconds, warmupSeconds }: LoadRequest): Promise<LoadResult> => {
    const warmup = warmupSeconds === undefined || warmupSeconds === 0 ? {} : { warmup: { connections, duration: warmupSeconds } }
    const r = await autocannon({ url, connections, duration: seconds, ...warmup })
    return {
      requests: r.requests.total,
      requests_per_s: Math.round(r.requests.average),
      latency_ms: { mean: r.latency.mean, p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      non_2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts
    }
  }
}, { pid: process.pid })
