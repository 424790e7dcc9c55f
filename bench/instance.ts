// One runtime instance in a process of its own, for the scale-out scenario (forked by
// bench/instance-client.ts): Fastify and the plugin on the scenario's schema, the runtime started
// only when the bench says so, so that several start together. It reports its own CPU and what it
// delivered; the bench may kill it outright.
import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import { loadRuntimeCode } from './code.js'
import type { InstanceConfig, InstanceCounts } from './instance-protocol.js'
import { serve } from './ipc.js'
import { startProfile, type Profiling } from './profiler.js'

interface MetricJson { name: string, values: Array<{ value: number, labels: Record<string, string | number> }> }

const code = await loadRuntimeCode()
let app: FastifyInstance | undefined
let log: WriteStream | undefined
let pool: pg.Pool | undefined
let rssPeak = process.memoryUsage.rss()
let profiling: Profiling | undefined
setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage.rss()) }, 100).unref()

function opened (): FastifyInstance {
  if (app === undefined) throw new Error('the instance is not open')
  return app
}

function sum (metrics: MetricJson[], name: string, labels: Record<string, string> = {}): number {
  const values = metrics.find((m) => m.name === name)?.values ?? []
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0)
}

serve({
  open: async (config: InstanceConfig) => {
    log = createWriteStream(config.logFile)
    app = Fastify({ logger: { level: config.logLevel, stream: log } })
    if (config.poolMax !== undefined) {
      pool = new pg.Pool({ connectionString: config.url, max: config.poolMax, application_name: 'fastify-observers' })
      pool.on('error', () => {})
    }
    await app.register(code.plugin, {
      ...(pool === undefined ? { connectionString: config.url } : { pool }),
      schema: config.schema,
      auth: false,
      routes: false,
      network: { allowPrivate: true },
      runtime: { ...config.runtime, start: false }
    })
    await app.ready()
    return true
  },
  start: async () => {
    await opened().observers.start()
    return true
  },
  cpu: () => {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1e6
  },
  counts: async (): Promise<InstanceCounts> => {
    const metrics = await opened().observers.metrics.getMetricsAsJSON() as unknown as MetricJson[]
    return {
      delivered: sum(metrics, 'observers_actions_total', { outcome: 'success' }),
      events_read: sum(metrics, 'observers_events_read_total'),
      rss_peak_mb: Math.round(rssPeak / 1048576)
    }
  },
  // --cpu-prof: this process's profile over one window (bench/profiles/<name>-<time>.cpuprofile)
  profileStart: async (name: string) => {
    profiling = await startProfile({ cpu: true, heap: false }, name, () => {})
    return true
  },
  profileStop: async () => {
    const report = await profiling?.stop()
    profiling = undefined
    return report?.file ?? null
  },
  // a graceful stop: the runtime hands its partitions over and leaves
  close: async () => {
    await opened().close()
    await pool?.end()
    log?.end()
    if (log !== undefined) await once(log, 'finish')
    return true
  }
}, { pid: process.pid })
