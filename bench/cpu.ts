// Where the CPU went during a measured window: this process (the runtime, or a ceiling's client),
// the sink process, the PostgreSQL server (its postmaster and backends, from /proc) and the whole
// machine (/proc/stat). What the machine used beyond those three was someone else's: a figure
// taken while `other_s` is large is not a figure of this code. Linux only; null elsewhere.
import { readdirSync, readFileSync } from 'node:fs'
import type { Sink } from './sink-client.js'
import { round } from './stats.js'

export interface CpuReport {
  /** CPU seconds used by this process (the runtime under test, plus the bench's own polling) */
  runtime_process_s: number
  sink_process_s: number | null
  /** the PostgreSQL server's processes (when it runs on this machine) */
  postgres_s: number | null
  /** CPU seconds used by the whole machine, all cores, and its capacity over the window */
  machine_busy_s: number | null
  machine_capacity_s: number | null
  /** time the hypervisor gave our virtual CPUs to someone else */
  steal_s: number | null
  /** machine − (this process + sink + postgres): other people's work on the same cores */
  other_s: number | null
}

function machineTicks (): { busy: number, total: number, steal: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
    const fields = line.trim().split(/\s+/).slice(1).map(Number)
    const idle = fields[3] + (fields[4] ?? 0)
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
    return { busy: total - idle - (fields[7] ?? 0), total, steal: fields[7] ?? 0 }
  } catch {
    return null
  }
}

const TICK_S = 0.01 // USER_HZ is 100 on Linux

/** utime, stime, children's (waited-for) times and parent of one process, in ticks. */
function processTicks (pid: string): { ppid: number, own: number, children: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) }
  } catch {
    return null
  }
}

/** CPU seconds one process (another server the scenario started) used so far, or null. */
export function processCpuSeconds (pid: number): number | null {
  const ticks = processTicks(String(pid))
  return ticks === null ? null : ticks.own * TICK_S
}

/** The postmaster and its live children, plus what its ended children (closed connections) used. */
function serverTicks (postmaster: number | null): number | null {
  if (postmaster === null) return null
  const root = processTicks(String(postmaster))
  if (root === null) return null
  let ticks = root.own + root.children
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const p = processTicks(pid)
    if (p !== null && p.ppid === postmaster) ticks += p.own
  }
  return ticks
}

export async function measureCpu (sink?: Sink, postmaster: number | null = null): Promise<{ stop: () => Promise<CpuReport> }> {
  const self = process.cpuUsage()
  const sinkStart = await sink?.cpuSeconds()
  const machine = machineTicks()
  const server = serverTicks(postmaster)
  return {
    stop: async () => {
      const used = process.cpuUsage(self)
      const sinkEnd = await sink?.cpuSeconds()
      const after = machineTicks()
      const serverAfter = serverTicks(postmaster)
      const runtime = (used.user + used.system) / 1e6
      const sinkS = sinkEnd === undefined || sinkStart === undefined ? null : sinkEnd - sinkStart
      const postgres = server === null || serverAfter === null ? null : (serverAfter - server) * TICK_S
      const busy = machine === null || after === null ? null : (after.busy - machine.busy) * TICK_S
      return {
        runtime_process_s: round(runtime),
        sink_process_s: sinkS === null ? null : round(sinkS),
        postgres_s: postgres === null ? null : round(postgres),
        machine_busy_s: busy === null ? null : round(busy),
        machine_capacity_s: machine === null || after === null ? null : round((after.total - machine.total) * TICK_S),
        steal_s: machine === null || after === null ? null : round((after.steal - machine.steal) * TICK_S),
        other_s: busy === null || postgres === null ? null : round(Math.max(0, busy - runtime - (sinkS ?? 0) - postgres))
      }
    }
  }
}

/** The PostgreSQL server's postmaster, when it runs on this machine (the parent of our backend). */
export async function findPostmaster (query: (sql: string) => Promise<{ rows: Array<{ pid: number }> }>): Promise<number | null> {
  const { rows } = await query('select pg_backend_pid() as pid')
  const backend = processTicks(String(rows[0].pid))
  if (backend === null) return null
  const comm = readFileSync(`/proc/${backend.ppid}/comm`, 'utf8').trim()
  return comm.startsWith('postgres') ? backend.ppid : null
}

export interface ChildrenCpu {
  /** CPU seconds of this process's children that ended in the window (a server and its PostgreSQL) */
  children_s: number
  machine_capacity_s: number | null
  /** machine − (this process + those children): other people's work on the same cores */
  other_s: number | null
}

/** Like measureCpu, for work done by child processes that have ended (been waited for) by stop(). */
export function measureChildren (): { stop: () => ChildrenCpu } {
  const self = process.cpuUsage()
  const children = processTicks(String(process.pid))?.children ?? 0
  const machine = machineTicks()
  return {
    stop: () => {
      const used = process.cpuUsage(self)
      const childrenS = ((processTicks(String(process.pid))?.children ?? 0) - children) * TICK_S
      const after = machineTicks()
      const busy = machine === null || after === null ? null : (after.busy - machine.busy) * TICK_S
      return {
        children_s: round(childrenS),
        machine_capacity_s: machine === null || after === null ? null : round((after.total - machine.total) * TICK_S),
        other_s: busy === null ? null : round(Math.max(0, busy - (used.user + used.system) / 1e6 - childrenS))
      }
    }
  }
}
