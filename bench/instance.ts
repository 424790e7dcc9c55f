// One runtime instance in a process of its own, for the scale-out scenario (forked by
// bench/instance-client.ts): Fastify and the plugin on the scenario's schema, the runtime started
// only when the bench says so, so that several start together. It reports its own CPU and what it
// delivered; the bench may kill it outright.
import { once } from 'node:events'
import { createWriteStream, readdirSync, readFileSync, type WriteStream } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import { loadRuntimeCode } from './code.js'
import type { InstanceConfig, InstanceCounts } from './instance-protocol.js'
import { serve } from './ipc.js'
import { startProfile, type Profiling } from './profiler.js'

interface MetricJson { name: string, values: Array<{ value: number, labels: Record<string, string | number>, metricName?: string }> }

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

/** `name: value` lines of a /proc file of this process, as numbers (0 where it has none: not Linux) */
function procCounts (file: string): Record<string, number> {
  let text = ''
  try { text = readFileSync(`/proc/self/${file}`, 'utf8') } catch {}
  return Object.fromEntries(text.split('\n').map((line) => line.split(':')).filter(([, v]) => v !== undefined).map(([k, v]) => [k.trim(), Number.parseInt(v, 10)]))
}

/** CPU seconds of this process's main thread and of its other threads (/proc/self/task; 0 where there is none) */
function threadCpu (): { main: number, others: number } {
  const ticks = 100 // USER_HZ
  const result = { main: 0, others: 0 }
  let tasks: string[] = []
  try { tasks = readdirSync('/proc/self/task') } catch {}
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const seconds = (Number(fields[11]) + Number(fields[12])) / ticks
      if (task === String(process.pid)) result.main += seconds
      else result.others += seconds
    } catch {} // the thread ended meanwhile
  }
  return result
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
    const [io, status] = [procCounts('io'), procCounts('status')]
    const metrics = await opened().observers.metrics.getMetricsAsJSON() as unknown as MetricJson[]
    return {
      delivered: sum(metrics, 'observers_actions_total', { outcome: 'success' }),
      events_read: sum(metrics, 'observers_events_read_total'),
      rss_peak_mb: Math.round(rssPeak / 1048576),
      reads: {
        rows: sum(metrics, 'observers_change_log_reads_total', { result: 'rows' }),
        held: sum(metrics, 'observers_change_log_reads_total', { result: 'held' }),
        empty: sum(metrics, 'observers_change_log_reads_total', { result: 'empty' })
      },
      batches: (metrics.find((m) => m.name === 'observers_batch_duration_seconds')?.values ?? [])
        .filter((v) => v.metricName === 'observers_batch_duration_seconds_count').reduce((n, v) => n + v.value, 0),
      syscalls: { read: io.syscr ?? 0, write: io.syscw ?? 0 },
      context_switches: { voluntary: status.voluntary_ctxt_switches ?? 0, involuntary: status.nonvoluntary_ctxt_switches ?? 0 },
      thread_cpu_s: threadCpu()
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
