// `npm run bench`: the scenarios of SPEC section 7 against a real PostgreSQL and a webhook sink in
// a separate process, the ceilings they compete with, one JSON object on stdout (also saved in
// bench/results/). Progress goes to stderr. See bench/README.md.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { BenchContext } from './app.js'
import { parseArgs, type BenchArgs } from './args.js'
import { compileBench, loadRuntimeCode, type RuntimeCode } from './code.js'
import { ROOT, ROOT_ENV, RUNNING_COMPILED } from './root.js'
import { httpCeiling, pgCeiling } from './ceilings.js'
import { openDatabase, type BenchDatabase } from './database.js'
import { findPostmaster } from './cpu.js'
import { describeMachine, loadAverage } from './machine.js'
import { buildReport, saveReport, type Results } from './report.js'
import { admin } from './scenarios/admin.js'
import { backfill } from './scenarios/backfill.js'
import { backlog, backlogMillion } from './scenarios/backlog.js'
import { deadEndpoint } from './scenarios/dead-endpoint.js'
import { fanout } from './scenarios/fanout.js'
import { natsBacklog } from './scenarios/nats.js'
import { ordered, orderedFailing } from './scenarios/ordered.js'
import { rateLimited } from './scenarios/rate-limited.js'
import { slowEndpoint } from './scenarios/slow-endpoint.js'
import { startup } from './scenarios/startup.js'
import { firstDelivery } from './scenarios/first-delivery.js'
import { size } from './scenarios/size.js'
import { manyObservers } from './scenarios/many-observers.js'
import { retention } from './scenarios/retention.js'
import { scaleout } from './scenarios/scaleout.js'
import { steady } from './scenarios/steady.js'
import { startSink, type Sink } from './sink-client.js'

const began = Date.now()
function progress (message: string): void {
  process.stderr.write(`[bench ${((Date.now() - began) / 1000).toFixed(1).padStart(6)}s] ${message}\n`)
}

/**
 * The default: compile the plugin and the bench with tsc and run that copy with plain node, so that
 * the process measured (the runtime runs in it) carries no tsx loader thread (~40 MB of RSS).
 */
async function runCompiled (): Promise<number> {
  const dir = await compileBench(progress)
  try {
    const child = spawn(process.execPath, [join(dir, 'bench', 'run.js'), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, [ROOT_ENV]: ROOT }
    })
    // Ctrl-C reaches the child too (same process group): wait for it to clean up; relay SIGTERM
    process.on('SIGINT', () => {})
    process.on('SIGTERM', () => child.kill('SIGTERM'))
    return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 130)))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function main (): Promise<number> {
  let args: BenchArgs
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    return 2
  }
  if (args.compiled && !RUNNING_COMPILED) return await runCompiled()
  let database: BenchDatabase | undefined
  let sink: Sink | undefined
  let pool: pg.Pool | undefined
  let code: RuntimeCode | undefined
  const logDir = await mkdtemp(join(tmpdir(), 'fastify-observers-bench-logs-'))
  let cleaning: Promise<void> | undefined
  // once, whether the run ends or Ctrl-C interrupts it
  const cleanup = async (): Promise<void> => {
    // quickest first: a second Ctrl-C makes tsx kill this process outright
    cleaning ??= (async () => {
      await rm(logDir, { recursive: true, force: true })
      await sink?.stop().catch(() => {})
      await pool?.end().catch(() => {})
      await database?.stop().catch(() => {})
    })()
    await cleaning
  }
  let stopping = false
  const interrupted = (signal: string): void => {
    // tsx relays the signal the process group already got: the second one must not kill us
    if (stopping) return
    stopping = true
    progress(`${signal}: stopping`)
    // cleanup() stops the embedded server while the runtime may still hold connections: they die
    // under it, and a pg client with no 'error' listener would end this process before cleanup
    process.on('uncaughtException', (err) => progress(`while stopping: ${err.message}`))
    cleanup().finally(() => process.exit(130))
  }
  process.on('SIGINT', interrupted)
  process.on('SIGTERM', interrupted)
  try {
    code = await loadRuntimeCode()
    database = await openDatabase(progress)
    const benchPool = new pg.Pool({ connectionString: database.url, max: 4, application_name: 'bench' })
    // an idle client losing its server (cleanup stops the embedded one) must not crash the cleanup
    benchPool.on('error', () => {})
    pool = benchPool
    const machine = await describeMachine(pool, database.kind)
    progress(`${machine.nproc} cpus, ${machine.total_memory_mb} MB, node ${machine.node}, ${machine.postgres.split(' on ')[0]}, load ${machine.load_average_start.join(' ')}`)
    sink = await startSink()
    const ctx: BenchContext = {
      url: database.url,
      code,
      pool,
      quick: args.quick,
      logDir,
      logLevel: args.logLevel,
      runtime: args.runtime,
      keepSchemas: args.keepSchemas,
      profile: { cpu: args.cpuProf, heap: args.heapProf },
      postmaster: await findPostmaster(async (sql) => await benchPool.query(sql)).catch(() => null),
      progress
    }
    const perEndpoint = code.resolveOptions({ connectionString: database.url, auth: false, runtime: args.runtime }).runtime.maxInFlightPerEndpoint
    const results: Results = {}
    const errors: Record<string, string> = {}
    const s = sink
    const steps: Record<string, Array<[string, () => Promise<void>]>> = {
      backlog: [
        ['backlog', async () => { results.backlog = await backlog(ctx, s) }],
        ...(args.otel ? [['backlog_otel', async () => { results.backlog_otel = await tracedBacklog(ctx, s) }] as [string, () => Promise<void>]] : [])
      ],
      'backlog-1m': [['backlog_1m', async () => { results.backlog_1m = await backlogMillion(ctx, s) }]],
      nats: [['nats', async () => { results.nats = await natsBacklog(ctx, s, results.backlog) }]],
      fanout: [['fanout', async () => { results.fanout = await fanout(ctx, s) }]],
      ordered: [['ordered', async () => { results.ordered = await ordered(ctx, s) }]],
      'ordered-failing': [['ordered_failing', async () => { results.ordered_failing = await orderedFailing(ctx, s) }]],
      'dead-endpoint': [['dead_endpoint', async () => { results.dead_endpoint = await deadEndpoint(ctx, s) }]],
      'slow-endpoint': [['slow_endpoint', async () => { results.slow_endpoint = await slowEndpoint(ctx, s) }]],
      'rate-limited': [['rate_limited', async () => { results.rate_limited = await rateLimited(ctx, s) }]],
      steady: [['steady', async () => { results.steady = await steady(ctx, s) }]],
      admin: [['admin', async () => { results.admin = await admin(ctx, s) }]],
      ceilings: [
        ['ceiling_http', async () => { results.ceiling_http = await httpCeiling(ctx, s) }],
        ['ceiling_http_endpoint', async () => { results.ceiling_http_endpoint = await httpCeiling(ctx, s, perEndpoint) }],
        ['ceiling_pg', async () => { results.ceiling_pg = await pgCeiling(ctx) }]
      ],
      startup: [['startup', async () => { results.startup = await startup(ctx) }]],
      'first-delivery': [['first_delivery', async () => { results.first_delivery = await firstDelivery(ctx, s) }]],
      size: [['size', async () => { results.size = await size(ctx, s) }]],
      'many-observers': [['many_observers', async () => { results.many_observers = await manyObservers(ctx, s) }]],
      retention: [['retention', async () => { results.retention = await retention(ctx, s) }]],
      backfill: [['backfill', async () => { results.backfill = await backfill(ctx, s, args.rows) }]],
      scaleout: [['scaleout', async () => { results.scaleout = await scaleout(ctx, s) }]]
    }
    // a failing scenario is reported and the others still run
    for (const [name, step] of args.scenarios.flatMap((scenario) => steps[scenario])) {
      try {
        await step()
      } catch (err) {
        errors[name] = err instanceof Error ? err.message : String(err)
        progress(`${name} failed: ${errors[name]}`)
      }
    }
    const settings = {
      scenarios: args.scenarios,
      quick: args.quick,
      code: code.source,
      runtime: code.resolveOptions({ connectionString: database.url, auth: false, runtime: args.runtime }).runtime,
      log_level: args.logLevel,
      database: database.kind === 'embedded'
        ? 'embedded PostgreSQL, default settings (fsync on), same machine'
        : 'BENCH_DATABASE_URL (its own settings; see machine.postgres_settings)',
      sink: `separate process, node:http keep-alive on 127.0.0.1 (its RSS at the end: ${await sink.rssMb()} MB)`
    }
    const report = buildReport({ ...machine, load_average_end: loadAverage() }, settings, results, errors)
    const file = await saveReport(report, args.quick)
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    progress(`saved ${file}`)
    return report.ok ? 0 : 1
  } catch (err) {
    progress(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
    return 1
  } finally {
    await cleanup()
  }
}

/** The backlog with the SDK registered; the spans exported are reported with it. */
async function tracedBacklog (ctx: BenchContext, sink: Sink): Promise<NonNullable<Results['backlog_otel']>> {
  // loaded only now: the plain backlog's process carries no SDK
  const { registerOtelSdk } = await import('./otel.js')
  const sdk = registerOtelSdk()
  try {
    const result = await backlog(ctx, sink, 'backlog_otel')
    await sdk.stop()
    return { ...result, spans_exported: sdk.exported() }
  } catch (err) {
    await sdk.stop().catch(() => {})
    throw err
  }
}

const exitCode = await main()
// everything this process opened is closed; exit now rather than wait on a stray timer
process.exit(exitCode)
