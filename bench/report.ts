// The one JSON object of a run: machine, settings, every scenario's figures, the ceilings, the
// runtime's figures as ratios to them, and SPEC section 7's targets met or not.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ROOT } from './root.js'
import type { HttpCeiling, PgCeiling } from './ceilings.js'
import type { CpuReport } from './cpu.js'
import type { Machine } from './machine.js'
import type { AdminResult } from './scenarios/admin.js'
import type { DeadEndpointResult } from './scenarios/dead-endpoint.js'
import type { DrainResult } from './scenarios/drain.js'
import type { NatsResult } from './scenarios/nats.js'
import type { OrderedResult } from './scenarios/ordered.js'
import type { RateLimitedResult } from './scenarios/rate-limited.js'
import type { SlowEndpointResult } from './scenarios/slow-endpoint.js'
import type { StartupResult } from './scenarios/startup.js'
import type { FirstDeliveryResult } from './scenarios/first-delivery.js'
import type { SizeResult } from './scenarios/size.js'
import type { ManyObserversResult } from './scenarios/many-observers.js'
import type { RetentionResult } from './scenarios/retention.js'
import type { ScaleoutResult } from './scenarios/scaleout.js'
import type { BackfillResult } from './scenarios/backfill.js'
import type { SteadyResult } from './scenarios/steady.js'
import { round } from './stats.js'

export interface Results {
  backlog?: DrainResult
  /** `--otel`: the backlog with an SDK registered */
  backlog_otel?: DrainResult & { spans_exported: number }
  /** `backlog-1m`, only when named */
  backlog_1m?: DrainResult
  /** `nats`, only when named: the backlog published to a JetStream stream */
  nats?: NatsResult
  fanout?: DrainResult
  ordered?: OrderedResult
  ordered_failing?: DrainResult
  dead_endpoint?: DeadEndpointResult
  slow_endpoint?: SlowEndpointResult
  rate_limited?: RateLimitedResult
  steady?: SteadyResult
  admin?: AdminResult
  startup?: StartupResult
  first_delivery?: FirstDeliveryResult
  /** `size`, only when named */
  size?: SizeResult
  /** issue 25, only when named */
  many_observers?: ManyObserversResult
  /** issue 25, only when named: the steady load while retention removes a backlog */
  retention?: RetentionResult
  /** issue 27, only when named: a backfill job beside the steady load, and the steady load alone */
  backfill?: BackfillResult
  /** issue 26, only when named: 1, 2 and 4 instance processes on 8 partitions; a kill -9 and a join */
  scaleout?: ScaleoutResult
  ceiling_http?: HttpCeiling
  /** the same client with as many in flight as one endpoint may have (maxInFlightPerEndpoint) */
  ceiling_http_endpoint?: HttpCeiling
  ceiling_pg?: PgCeiling
}

export interface Target { target: string, measured: number | null, met: boolean | null }

export interface Report {
  machine: Machine & { load_average_end: number[] }
  settings: Record<string, unknown>
  scenarios: Omit<Results, 'ceiling_http' | 'ceiling_http_endpoint' | 'ceiling_pg'>
  ceilings: { http?: HttpCeiling, http_endpoint?: HttpCeiling, pg?: PgCeiling }
  ratios: Record<string, number | null>
  targets: Record<string, Target>
  /** share of the machine's CPU used by other processes during each measured window (0 = quiet) */
  interference: Record<string, number | null>
  errors: Record<string, string>
  ok: boolean
}

const largest = (r: Results) => r.many_observers?.sizes[r.many_observers.sizes.length - 1]
/** scaleout_<n> (the cold drain) and scaleout_<n>_warm for each count of instances measured */
const scaleoutWindows = (r: Results): Array<[string, CpuReport]> =>
  (r.scaleout?.runs ?? []).flatMap((run) => [[`scaleout_${run.instances}`, run.cold.cpu], [`scaleout_${run.instances}_warm`, run.warm.cpu]])

const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined || b === 0 ? null : round(a / b, 3)

/** The runtime's CPU per delivery ÷ the sink's CPU per request: the same-run cost, whatever the machine's speed. */
function costToSink (r: DrainResult | undefined): number | undefined {
  const sink = r?.cpu.sink_process_s
  if (r === undefined || sink === null || sink === undefined || sink === 0) return undefined
  return (r.cpu.runtime_process_s / r.deliveries) / (sink / r.correctness.sink_requests)
}

function target (text: string, measured: number | undefined, met: (v: number) => boolean): Target {
  return measured === undefined ? { target: text, measured: null, met: null } : { target: text, measured, met: met(measured) }
}

function endpointP99 (admin: AdminResult | undefined, name: string, oneConnection = false): number | undefined {
  const e = admin?.endpoints[name]
  if (e === undefined || !('latency_ms' in e)) return undefined
  return oneConnection ? e.one_connection.latency_ms.p99 : e.latency_ms.p99
}

export function buildReport (machine: Machine & { load_average_end: number[] }, settings: Record<string, unknown>, r: Results, errors: Record<string, string>): Report {
  const backlog = r.backlog?.deliveries_per_s
  const fanout = r.fanout?.deliveries_per_s
  const http = r.ceiling_http?.requests_per_s
  const pgRows = r.ceiling_pg?.rows_per_s
  const ordered = r.ordered?.ordered.deliveries_per_s
  const rateLimit = r.rate_limited?.rate_limit.per_second
  const correct = [r.backlog, r.backlog_otel, r.backlog_1m, r.nats, r.fanout, r.steady, r.ordered?.unordered, r.ordered?.ordered, r.ordered?.hot_key, r.ordered_failing,
    r.dead_endpoint?.baseline, r.dead_endpoint?.dead, r.slow_endpoint?.baseline, r.slow_endpoint?.slow, r.rate_limited,
    ...(r.scaleout?.runs ?? []), r.scaleout?.membership ?? undefined]
    .every((s) => s === undefined || s.correctness.ok)
  return {
    machine,
    settings,
    scenarios: { backlog: r.backlog, backlog_otel: r.backlog_otel, backlog_1m: r.backlog_1m, nats: r.nats, steady: r.steady, fanout: r.fanout, ordered: r.ordered, ordered_failing: r.ordered_failing, dead_endpoint: r.dead_endpoint, slow_endpoint: r.slow_endpoint, rate_limited: r.rate_limited, admin: r.admin, startup: r.startup, first_delivery: r.first_delivery, size: r.size, many_observers: r.many_observers, retention: r.retention, backfill: r.backfill, scaleout: r.scaleout },
    ceilings: { http: r.ceiling_http, http_endpoint: r.ceiling_http_endpoint, pg: r.ceiling_pg },
    ratios: {
      backlog_to_http_ceiling: ratio(backlog, http),
      // against the client with one endpoint's share in flight, as the runtime has by default
      backlog_to_http_endpoint_ceiling: ratio(backlog, r.ceiling_http_endpoint?.requests_per_s),
      backlog_to_pg_ceiling: ratio(backlog, pgRows),
      fanout_to_http_ceiling: ratio(fanout, http),
      fanout_to_pg_ceiling: ratio(fanout, pgRows),
      fanout_to_backlog: ratio(fanout, backlog),
      nats_to_backlog: ratio(r.nats?.deliveries_per_s, backlog),
      ordered_to_unordered: r.ordered?.ordered_to_unordered ?? null,
      ordered_failing_to_ordered: ratio(r.ordered_failing?.deliveries_per_s, ordered),
      backlog_runtime_cpu_to_sink_cpu: ratio(costToSink(r.backlog), 1),
      backlog_otel_runtime_cpu_to_sink_cpu: ratio(costToSink(r.backlog_otel), 1),
      backlog_otel_to_backlog: ratio(r.backlog_otel?.deliveries_per_s, backlog),
      dead_endpoint_healthy_to_baseline: r.dead_endpoint?.healthy_to_baseline ?? null,
      slow_endpoint_fast_to_baseline: r.slow_endpoint?.fast_to_baseline ?? null,
      rate_limited_to_limit: ratio(r.rate_limited?.measured_per_s, rateLimit)
    },
    targets: {
      backlog_rate: target('>= 10000 deliveries/s', backlog, (v) => v >= 10_000),
      backlog_rss: target('< 200 MB peak RSS', r.backlog?.memory.rss_peak_mb, (v) => v < 200),
      backlog_1m_rss: target('< 200 MB peak RSS over a 1 000 000-row drain', r.backlog_1m?.memory.rss_peak_mb, (v) => v < 200),
      steady_p50: target('< 2 ms commit-to-delivery p50', r.steady?.latency_ms.p50, (v) => v < 2),
      steady_p99: target('< 10 ms commit-to-delivery p99', r.steady?.latency_ms.p99, (v) => v < 10),
      fanout_vs_backlog: target('>= 0.8 of the backlog rate', ratio(fanout, backlog) ?? undefined, (v) => v >= 0.8),
      ordered_vs_unordered: target('>= 0.9 of the unordered rate, 10 000 entities', r.ordered?.ordered_to_unordered, (v) => v >= 0.9),
      ordered_failing_vs_ordered: target('>= 0.9 of the ordered rate with one entity failing', ratio(r.ordered_failing?.deliveries_per_s, ordered) ?? undefined, (v) => v >= 0.9),
      // SPEC 7, second targets, and 9.3: every ratio against a baseline drained in the same run
      dead_endpoint_healthy: target('>= 0.9 of the healthy rate without the dead endpoint', r.dead_endpoint?.healthy_to_baseline, (v) => v >= 0.9),
      dead_endpoint_requests_open: target('a few probes a minute once open (<= 3 requests/min from 1 s after opening)', r.dead_endpoint?.requests_per_minute_open ?? undefined, (v) => v <= 3),
      slow_endpoint_fast: target('>= 0.9 of the fast rate without the slow endpoint', r.slow_endpoint?.fast_to_baseline, (v) => v >= 0.9),
      rate_limited_rate: target('50/s within 5 %', r.rate_limited?.measured_per_s, (v) => rateLimit !== undefined && Math.abs(v / rateLimit - 1) <= 0.05),
      admin_observers_p99: target('< 20 ms p99 GET /observers', endpointP99(r.admin, 'list_observers'), (v) => v < 20),
      admin_logs_p99: target('< 50 ms p99 GET /observers/logs', endpointP99(r.admin, 'list_logs'), (v) => v < 50),
      // the same targets for one request at a time (no queue behind a saturated server)
      admin_observers_p99_one_connection: target('< 20 ms p99 GET /observers, one connection', endpointP99(r.admin, 'list_observers', true), (v) => v < 20),
      admin_logs_p99_one_connection: target('< 50 ms p99 GET /observers/logs, one connection', endpointP99(r.admin, 'list_logs', true), (v) => v < 50),
      // SPEC 9.7 / issue 10: health within 1.5 s of launch when ./.data exists (the slowest run)
      startup_health: target('< 1500 ms from `npm start` to health 200, ./.data existing', r.startup?.npm_start_ms.max, (v) => v < 1500),
      // issue 15: a warm start (not the process's first) to its first delivery
      first_delivery: target('< 100 ms from start() to the first delivery, warm database (p50 of the warm starts)', r.first_delivery?.warm_ms.p50, (v) => v < 100),
      // SPEC 9.9: 100 000 observers, 1 000 000 dead letters
      size_first_page: target('< 20 ms median GET /observers page 1, page_size 100, 100 000 observers', r.size?.list.first_page_ms.p50, (v) => v < 20),
      size_page_1000: target('< 20 ms median GET /observers page 1 000 by cursor', r.size?.list.page_1000_by_cursor_ms.p50, (v) => v < 20),
      size_health_p99: target('< 10 ms p99 health, 1 000 000 dead letters', r.size?.health.often_ms.p99, (v) => v < 10),
      size_scrape: target('< 20 ms p99 scrape, 1 000 000 dead letters', r.size?.scrape.often_ms.p99, (v) => v < 20),
      // SPEC 9.9, at the largest size measured (100 000 in a full run)
      many_observers_create: target('< 200 ms from creating one observer to its first delivery (p50 of 3)', largest(r)?.create_to_delivered_ms.p50, (v) => v < 200),
      many_observers_update_cpu: target('< 5 ms of CPU per update of one observer (p50)', largest(r)?.update_cpu_ms.p50, (v) => v < 5),
      many_observers_rss: target('< 400 MB RSS at every moment', largest(r)?.rss_peak_mb, (v) => v < 400),
      // issue 26, on this 2-core machine: no collapse when the instances share the cores
      scaleout_rate_4: target('4 instances started together >= 0.9 x one (deliveries/s, 8 partitions)', r.scaleout?.ratios.cold_rate_4_to_1 ?? undefined, (v) => v >= 0.9),
      scaleout_cpu_4: target('runtime CPU per delivery, 4 instances started together, summed, <= 1.1 x one instance', r.scaleout?.ratios.cold_runtime_cpu_per_delivery_4_to_1 ?? undefined, (v) => v <= 1.1),
      scaleout_rate_4_warm: target('4 warm instances, split, >= 0.9 x one', r.scaleout?.ratios.warm_rate_4_to_1 ?? undefined, (v) => v >= 0.9),
      scaleout_cpu_4_warm: target('runtime CPU per delivery, 4 warm instances summed, <= 1.1 x one', r.scaleout?.ratios.warm_runtime_cpu_per_delivery_4_to_1 ?? undefined, (v) => v <= 1.1),
      scaleout_failover: target('< 10 000 ms from kill -9 to its partitions held by the others', r.scaleout?.membership?.failover_ms, (v) => v < 10_000),
      scaleout_join: target('< 10 000 ms from a join to its share', r.scaleout?.membership?.joined.share_ms, (v) => v < 10_000)
    },
    interference: Object.fromEntries(Object.entries({
      backlog: r.backlog?.cpu, backlog_otel: r.backlog_otel?.cpu, backlog_1m: r.backlog_1m?.cpu, nats: r.nats?.cpu, fanout: r.fanout?.cpu, ordered: r.ordered?.ordered.cpu, ordered_failing: r.ordered_failing?.cpu, dead_endpoint_baseline: r.dead_endpoint?.baseline.cpu, dead_endpoint: r.dead_endpoint?.dead.cpu, slow_endpoint_baseline: r.slow_endpoint?.baseline.cpu, slow_endpoint: r.slow_endpoint?.slow.cpu, rate_limited: r.rate_limited?.cpu, steady: r.steady?.cpu, ceiling_http: r.ceiling_http?.cpu, ceiling_http_endpoint: r.ceiling_http_endpoint?.cpu, ceiling_pg: r.ceiling_pg?.cpu
    }).concat(scaleoutWindows(r)).filter(([, cpu]) => cpu !== undefined).map(([name, cpu]) => [name,
      cpu?.other_s === null || cpu?.other_s === undefined || cpu.machine_capacity_s === null || cpu.machine_capacity_s === 0 ? null : round(cpu.other_s / cpu.machine_capacity_s, 3)])),
    errors,
    ok: correct && Object.keys(errors).length === 0
  }
}

/** bench/results/<ISO date>.json (colons made file-name safe); quick runs are marked as such. */
export async function saveReport (report: Report, quick: boolean): Promise<string> {
  const dir = join(ROOT, 'bench', 'results') + '/'
  await mkdir(dir, { recursive: true })
  const file = `${dir}${report.machine.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}${quick ? '-quick' : ''}.json`
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')
  return file
}
