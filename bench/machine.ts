// The machine and server the figures were taken on.
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import type pg from 'pg'
import { round } from './stats.js'

export interface Machine {
  date: string
  nproc: number
  cpu: string
  total_memory_mb: number
  node: string
  postgres: string
  postgres_settings: Record<string, string>
  database: string
  /** the code measured: HEAD, and whether lib/, routes/ or index.ts had uncommitted changes */
  git: { commit: string, runtime_dirty: boolean } | null
  load_average_start: number[]
}

export function loadAverage (): number[] {
  return os.loadavg().map((n) => round(n, 2))
}

export async function describeMachine (pool: pg.Pool, database: string): Promise<Machine> {
  const { rows: [version] } = await pool.query<{ version: string }>('select version()')
  const { rows: settings } = await pool.query<{ name: string, setting: string, unit: string | null }>(
    `select name, setting, unit from pg_settings
      where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level', 'max_wal_size', 'work_mem')`)
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    total_memory_mb: Math.round(os.totalmem() / 1048576),
    node: process.version,
    postgres: version.version,
    postgres_settings: Object.fromEntries(settings.map((s) => [s.name, s.unit === null ? s.setting : `${s.setting} ${s.unit}`])),
    database,
    git: gitState(),
    load_average_start: loadAverage()
  }
}

function gitState (): Machine['git'] {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    return { commit: git('rev-parse', '--short', 'HEAD'), runtime_dirty: git('status', '--porcelain', '--', 'lib', 'routes', 'index.ts', 'migrations') !== '' }
  } catch {
    return null
  }
}
