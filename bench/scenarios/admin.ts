// admin: the two list endpoints an operator opens first, over a large installation:
// GET /observers with 1 000 observers and GET /observers/logs over 1 000 000 log rows,
// under autocannon from a separate process: 10 connections (the server saturated: the latency is
// mostly the queue), then one connection (the answer time of one request at a time).
import type { AddressInfo } from 'node:net'
import { withApp, type BenchApp, type BenchContext, type LogSummary } from '../app.js'
import { now } from '../clock.js'
import { flushDatabase, insertObservers } from '../data.js'
import { forkChild } from '../ipc.js'
import type { LoadRequest, LoadResult } from '../load-client.js'
import { measureCpu, type CpuReport } from '../cpu.js'
import { startProfile, type ProfileReport } from '../profiler.js'
import { loadAverage } from '../machine.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'

type Endpoint = LoadResult & {
  path: string
  cpu: CpuReport
  server_cpu_ms_per_request: number
  profile?: ProfileReport
  /** the same endpoint from one connection, one request at a time */
  one_connection: LoadResult
} | { path: string, skipped: string } | { path: string, error: string }

export interface AdminResult {
  observers: number
  log_rows: number
  insert_seconds: number
  connections: number
  seconds_each: number
  warmup_seconds: number
  endpoints: Record<string, Endpoint>
  load_average: { start: number[], end: number[] }
  runtime_log: LogSummary
}

export async function admin (ctx: BenchContext, sink: Sink): Promise<AdminResult> {
  return await withApp(ctx, 'bench_admin', { routes: true }, async (bench) => await measure(ctx, sink, bench))
}

async function insertLogs (ctx: BenchContext, schema: string, rows: number): Promise<void> {
  // one statement; 2 % failed, spread over the observers, half a second apart, newest last
  await ctx.pool.query(`insert into "${schema}".tb_observer_log (observer_id, event_id, change_log_id, entity_type, entity_id,
      event_type, action_index, action_type, status, attempt_number, max_attempts, started_at, completed_at, duration_ms,
      error_code, error_message, response_status_code, response_payload, created_at)
    select o.ids[1 + g % o.n], gen_random_uuid(), g, 'order', (g % 50000)::text, 'INSERT', 0, 'webhook',
           case when g % 50 = 0 then 'failed' else 'success' end, 1, 3, ts.t, ts.t + make_interval(secs => (g % 40) / 1000.0), g % 40,
           case when g % 50 = 0 then 'HTTP_500' end, case when g % 50 = 0 then 'endpoint answered 500' end,
           case when g % 50 = 0 then 500 else 200 end, 'ok', ts.t
      from (select array_agg(id order by pk_observer) as ids, count(*)::int as n from "${schema}".tb_observer) o,
           generate_series(1, $1::int) g,
           lateral (select now() - make_interval(secs => ($1::int - g) * 0.5)) ts(t)`, [rows])
  // an installation this size has been vacuumed and analysed by autovacuum long ago
  await ctx.pool.query(`vacuum analyze "${schema}".tb_observer_log`)
  await ctx.pool.query(`vacuum analyze "${schema}".tb_observer`)
}

async function measure (ctx: BenchContext, sink: Sink, bench: BenchApp): Promise<Omit<AdminResult, 'runtime_log'>> {
  const observers = 1000
  const logRows = ctx.quick ? 100_000 : 1_000_000
  const connections = 10
  const seconds = ctx.quick ? 2 : 5
  const warmupSeconds = 1
  const prefix = bench.app.observers.options.prefix
  ctx.progress(`admin: writing ${observers} observers and ${logRows} log rows`)
  const insertStart = now()
  const ids = await insertObservers(ctx.pool, bench.schema, { count: observers, url: `${sink.url}/hook`, entityTypes: ['order', 'customer', 'invoice', 'shipment'] })
  await insertLogs(ctx, bench.schema, logRows)
  const insertSeconds = (now() - insertStart) / 1000
  await flushDatabase(ctx.pool)
  await bench.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(bench.app.server.address() as AddressInfo).port}`

  const targets: Record<string, { route: string, path: string }> = {
    list_observers: { route: prefix, path: prefix },
    list_observers_page_50: { route: prefix, path: `${prefix}?page=50&page_size=20` },
    list_logs: { route: `${prefix}/logs`, path: `${prefix}/logs` },
    list_logs_by_observer: { route: `${prefix}/logs`, path: `${prefix}/logs?observer_id=${ids[500]}` },
    list_logs_failed: { route: `${prefix}/logs`, path: `${prefix}/logs?status=failed` }
  }
  const loadStart = loadAverage()
  const load = await forkChild<{ pid: number }>(new URL('../load-client.ts', import.meta.url))
  const endpoints: Record<string, Endpoint> = {}
  try {
    for (const [name, { route, path }] of Object.entries(targets)) {
      if (!bench.app.hasRoute({ method: 'GET', url: route })) {
        endpoints[name] = { path, skipped: 'route missing' }
        ctx.progress(`admin: ${name}: skipped, GET ${route} is not registered`)
        continue
      }
      const probe = await bench.app.inject({ method: 'GET', url: path })
      if (probe.statusCode !== 200) {
        endpoints[name] = { path, error: `GET ${path} answered ${probe.statusCode}: ${probe.body.slice(0, 300)}` }
        ctx.progress(`admin: ${name}: ${endpoints[name].error}`)
        continue
      }
      const cpu = await measureCpu(undefined, ctx.postmaster)
      const profiling = await startProfile(ctx.profile, `admin-${name}`, ctx.progress)
      const result = await load.call<LoadResult>('run', { url: origin + path, connections, seconds, warmupSeconds } satisfies LoadRequest)
      const profile = await profiling.stop()
      const used = await cpu.stop()
      const single = await load.call<LoadResult>('run', { url: origin + path, connections: 1, seconds, warmupSeconds } satisfies LoadRequest)
      endpoints[name] = {
        path,
        ...result,
        cpu: used,
        // the server's CPU per answer: with 10 connections the latency is mostly the queue behind it
        server_cpu_ms_per_request: round(1000 * used.runtime_process_s / Math.max(1, result.requests), 3),
        ...(profile === undefined ? {} : { profile }),
        one_connection: single
      }
      ctx.progress(`admin: ${name}: ${connections} connections p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms, ${result.requests_per_s} requests/s;` +
        ` one connection p50 ${single.latency_ms.p50} ms, p99 ${single.latency_ms.p99} ms`)
    }
  } finally {
    await load.stop()
  }
  return {
    observers,
    log_rows: logRows,
    insert_seconds: round(insertSeconds),
    connections,
    seconds_each: seconds,
    warmup_seconds: warmupSeconds,
    endpoints,
    load_average: { start: loadStart, end: loadAverage() }
  }
}
