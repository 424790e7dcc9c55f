// What the bench and a runtime instance in a process of its own (bench/instance.ts) say to each
// other over IPC.
import type { ObserverPluginOptions } from '../index.js'

export interface InstanceConfig {
  url: string
  schema: string
  /** the runtime's log (pino, JSON lines) goes to this file */
  logFile: string
  logLevel: string
  /** runtime options: partitions and instanceId among them; `start` is forced off (the bench starts it) */
  runtime: NonNullable<ObserverPluginOptions['runtime']>
  /**
   * a pg.Pool of this size, made by the instance and passed as `pool`, instead of the plugin's own
   * pool of 10 from `connectionString` (each partition held keeps one of its connections as its lease)
   */
  poolMax?: number
}

export interface InstanceCounts {
  /** action attempts answered 2xx by this instance (observers_actions_total, outcome success) */
  delivered: number
  /** change-log rows this instance read (observers_events_read_total) */
  events_read: number
  /** the process's peak RSS, sampled every 100 ms since it registered the plugin */
  rss_peak_mb: number
  /** change-log reads by what they found (observers_change_log_reads_total) */
  reads: { rows: number, held: number, empty: number }
  /** batches read, delivered and committed (observers_batch_duration_seconds' count) */
  batches: number
  /** the process's read and write system calls (/proc/self/io) and context switches (/proc/self/status) */
  syscalls: { read: number, write: number }
  context_switches: { voluntary: number, involuntary: number }
  /** CPU seconds of the main thread (JavaScript, the event loop) and of the others (V8's GC and compiler helpers, libuv's pool) */
  thread_cpu_s: { main: number, others: number }
}
