// The runtime under test: Fastify + the plugin in this process, on a schema of its own.
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import type pg from 'pg'
import type { ObserverPluginOptions } from '../index.js'
import type { RuntimeCode } from './code.js'
import { dropSchema } from './data.js'

export interface BenchContext {
  url: string
  /** the plugin and the lib functions the bench uses: compiled (the default) or sources via tsx (--tsx) */
  code: RuntimeCode
  /** the bench's own small pool: inserts and checks, never the runtime's work */
  pool: pg.Pool
  quick: boolean
  /** runtime logs go to a file per scenario here, at `logLevel`: logging costs what it costs in production */
  logDir: string
  logLevel: string
  /** runtime option overrides from the command line (`--runtime '{"batchSize":500}'`) */
  runtime: NonNullable<ObserverPluginOptions['runtime']>
  keepSchemas: boolean
  /** the database server's postmaster pid when it runs here (CPU accounting), else null */
  postmaster: number | null
  /** --cpu-prof / --heap-prof: profile each scenario's measured window */
  profile: { cpu: boolean, heap: boolean }
  progress: (message: string) => void
}

export interface LogSummary {
  lines: number
  by_level: Record<string, number>
  first_error: string | null
}

export interface BenchApp {
  app: FastifyInstance
  schema: string
  /** closes the app (drains the runtime), drops the schema; returns what the runtime logged */
  close: () => Promise<LogSummary>
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

/** Registers the plugin with the runtime stopped: the scenario loads its data, then calls `app.observers.start()`. */
export async function buildApp (ctx: BenchContext, schema: string, options: { routes?: boolean } = {}): Promise<BenchApp> {
  await dropSchema(ctx.pool, schema)
  const file = join(ctx.logDir, `${schema}.log`)
  const stream = createWriteStream(file)
  const app = Fastify({ logger: { level: ctx.logLevel, stream } })
  await app.register(ctx.code.plugin, {
    connectionString: ctx.url,
    schema,
    auth: false,
    routes: options.routes ?? false,
    network: { allowPrivate: true },
    runtime: { ...ctx.runtime, start: false }
  })
  await app.ready()
  return {
    app,
    schema,
    close: async () => {
      await app.close()
      stream.end()
      await once(stream, 'finish')
      if (!ctx.keepSchemas) await dropSchema(ctx.pool, schema)
      return await summarizeLog(file)
    }
  }
}

/**
 * Runs `measure` on an app of its own and closes it however `measure` ends; the result carries what
 * the runtime logged meanwhile.
 */
export async function withApp<T> (
  ctx: BenchContext, schema: string, options: { routes?: boolean }, measure: (bench: BenchApp) => Promise<T>
): Promise<T & { runtime_log: LogSummary }> {
  const bench = await buildApp(ctx, schema, options)
  let result: T
  try {
    result = await measure(bench)
  } catch (err) {
    await bench.close().catch(() => {})
    throw err
  }
  return { ...result, runtime_log: await bench.close() }
}

export async function summarizeLog (file: string): Promise<LogSummary> {
  const summary: LogSummary = { lines: 0, by_level: {}, first_error: null }
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (line === '') continue
    summary.lines++
    let entry: { level?: number, msg?: string, err?: { message?: string } }
    try {
      entry = JSON.parse(line)
    } catch {
      continue
    }
    const level = LEVELS[entry.level ?? 0] ?? String(entry.level)
    summary.by_level[level] = (summary.by_level[level] ?? 0) + 1
    if ((entry.level ?? 0) >= 50 && summary.first_error === null) {
      summary.first_error = `${entry.msg ?? ''}${entry.err?.message !== undefined ? `: ${entry.err.message}` : ''}`
    }
  }
  return summary
}
