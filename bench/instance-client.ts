// The bench's handle on a runtime instance in a process of its own (bench/instance.ts): open it on
// a schema (the plugin registered, the runtime not started), start it, read its CPU and what it
// delivered, stop it gracefully or kill it.
import { join } from 'node:path'
import { summarizeLog, type BenchContext, type LogSummary } from './app.js'
import type { InstanceConfig, InstanceCounts } from './instance-protocol.js'
import { forkChild } from './ipc.js'

export interface Instance {
  id: string
  pid: number
  start: () => Promise<void>
  /** CPU seconds (user + system) the process has used so far */
  cpuSeconds: () => Promise<number>
  counts: () => Promise<InstanceCounts>
  /** a CPU profile of the process from now until `profileStop`, which answers its file */
  profileStart: (name: string) => Promise<void>
  profileStop: () => Promise<string | null>
  /** a graceful stop (partitions handed over), then the process ends; answers what it logged */
  close: () => Promise<LogSummary>
  /** kill -9: no hand-over, no goodbye; answers what it had logged */
  kill: () => Promise<LogSummary>
}

/** BENCH_SCALEOUT_POOL_MAX=N: each instance on a pg.Pool of N connections of its own (see InstanceConfig.poolMax) */
export const INSTANCE_POOL_MAX = Number(process.env.BENCH_SCALEOUT_POOL_MAX ?? '') || undefined

export async function openInstance (ctx: BenchContext, schema: string, id: string, runtime: InstanceConfig['runtime']): Promise<Instance> {
  const child = await forkChild<{ pid: number }>(new URL('./instance.ts', import.meta.url))
  const logFile = join(ctx.logDir, `${schema}-${id}.log`)
  try {
    await child.call('open', { url: ctx.url, schema, logFile, logLevel: ctx.logLevel, runtime: { ...ctx.runtime, ...runtime, instanceId: id }, poolMax: INSTANCE_POOL_MAX } satisfies InstanceConfig)
  } catch (err) {
    await child.kill()
    throw err
  }
  let ended = false
  return {
    id,
    pid: child.pid,
    start: async () => { await child.call('start') },
    cpuSeconds: async () => await child.call<number>('cpu'),
    counts: async () => await child.call<InstanceCounts>('counts'),
    profileStart: async (name) => { await child.call('profileStart', name) },
    profileStop: async () => await child.call<string | null>('profileStop'),
    close: async () => {
      if (!ended) {
        ended = true
        await child.call('close').finally(async () => { await child.stop() })
      }
      return await summarizeLog(logFile)
    },
    kill: async () => {
      ended = true
      await child.kill()
      return await summarizeLog(logFile)
    }
  }
}

/** Adds up the instances' log summaries (the first error of the first instance that had one). */
export function mergeLogs (logs: LogSummary[]): LogSummary {
  const merged: LogSummary = { lines: 0, by_level: {}, first_error: null }
  for (const log of logs) {
    merged.lines += log.lines
    for (const [level, n] of Object.entries(log.by_level)) merged.by_level[level] = (merged.by_level[level] ?? 0) + n
    merged.first_error ??= log.first_error
  }
  return merged
}
