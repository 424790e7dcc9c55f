// The runtime code under test, from one place: the plugin built with tsc (with the bench itself,
// run by plain node: the default, as `npm run build` ships it), or with `--tsx` the TypeScript
// sources through tsx.
// tsx compiles with esbuild's keepNames, which wraps every closure the hot path creates in a
// `__name()` call, and keeps each module's transform in memory: both cost CPU and RSS that a
// deployment does not pay. Everything the bench takes from lib/ comes through here, so a
// compiled run never loads the sources too (only type imports reach lib/ elsewhere, and
// server/embedded-postgres.ts, which is not the runtime).
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT, RUNNING_COMPILED } from './root.js'

type Plugin = typeof import('../index.js')
type ChangeLogRepo = typeof import('../lib/db/change-log.repo.js')
type CheckpointRepo = typeof import('../lib/db/checkpoint.repo.js')
type SettlementRepo = typeof import('../lib/db/settlement.repo.js')
type PartitionsRepo = typeof import('../lib/db/partitions.repo.js')
type Migrate = typeof import('../lib/db/migrate.js')
type Model = typeof import('../lib/model.js')
type Options = typeof import('../lib/options.js')
type Event = typeof import('../lib/runtime/delivery/event.js')
type Settling = typeof import('../lib/runtime/delivery/settling.js')
type Retention = typeof import('../lib/runtime/retention.js')
type Metrics = typeof import('../lib/runtime/metrics/metrics.js')

export interface RuntimeCode {
  source: 'typescript via tsx' | 'compiled with tsc'
  plugin: Plugin['default']
  readBelowHorizon: ChangeLogRepo['readBelowHorizon']
  ensureCheckpoint: CheckpointRepo['ensureCheckpoint']
  commitSettlement: SettlementRepo['commitSettlement']
  partitionOf: PartitionsRepo['partitionOf']
  partitionStreamId: PartitionsRepo['partitionStreamId']
  ensurePartitionIndex: PartitionsRepo['ensurePartitionIndex']
  migrateToLatest: Migrate['migrateToLatest']
  DEFAULT_RETRY_CONFIG: Model['DEFAULT_RETRY_CONFIG']
  resolveOptions: Options['resolveOptions']
  toEvent: Event['toEvent']
  toEnvelope: Event['toEnvelope']
  settle: Settling['settle']
  runRetention: Retention['runRetention']
  createMetrics: Metrics['createMetrics']
}

/** Compiles the plugin and the bench with tsc into a temporary folder; returns the folder. */
export async function compileBench (progress: (m: string) => void): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fastify-observers-bench-build-'))
  progress(`compiling the plugin and the bench with tsc into ${dir}`)
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  try {
    await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.bench.json'), '--outDir', dir], { cwd: ROOT })
  } catch (err) {
    // a type error elsewhere still emits JavaScript; only a missing entry is fatal
    if (!existsSync(join(dir, 'bench', 'run.js'))) throw err
    progress('tsc reported errors but emitted the code; measuring what it emitted')
  }
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  return dir
}

/** The plugin's code, from the same tree as this file: the compiled copy, or the sources under tsx. */
export async function loadRuntimeCode (): Promise<RuntimeCode> {
  const ext = RUNNING_COMPILED ? '.js' : '.ts'
  const load = async <T>(path: string): Promise<T> => await import(new URL(`../${path.replace(/\.ts$/, ext)}`, import.meta.url).href) as T
  const [index, changeLog, checkpoint, settlement, partitions, migrate, model, options, event, settling, retention, metrics] = await Promise.all([
    load<Plugin>('index.ts'),
    load<ChangeLogRepo>('lib/db/change-log.repo.ts'),
    load<CheckpointRepo>('lib/db/checkpoint.repo.ts'),
    load<SettlementRepo>('lib/db/settlement.repo.ts'),
    load<PartitionsRepo>('lib/db/partitions.repo.ts'),
    load<Migrate>('lib/db/migrate.ts'),
    load<Model>('lib/model.ts'),
    load<Options>('lib/options.ts'),
    load<Event>('lib/runtime/delivery/event.ts'),
    load<Settling>('lib/runtime/delivery/settling.ts'),
    load<Retention>('lib/runtime/retention.ts'),
    load<Metrics>('lib/runtime/metrics/metrics.ts')
  ])
  return {
    source: RUNNING_COMPILED ? 'compiled with tsc' : 'typescript via tsx',
    plugin: index.default,
    readBelowHorizon: changeLog.readBelowHorizon,
    ensureCheckpoint: checkpoint.ensureCheckpoint,
    commitSettlement: settlement.commitSettlement,
    partitionOf: partitions.partitionOf,
    partitionStreamId: partitions.partitionStreamId,
    ensurePartitionIndex: partitions.ensurePartitionIndex,
    migrateToLatest: migrate.migrateToLatest,
    DEFAULT_RETRY_CONFIG: model.DEFAULT_RETRY_CONFIG,
    resolveOptions: options.resolveOptions,
    toEvent: event.toEvent,
    toEnvelope: event.toEnvelope,
    settle: settling.settle,
    runRetention: retention.runRetention,
    createMetrics: metrics.createMetrics
  }
}
