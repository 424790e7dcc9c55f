// What the runtime's parts share: configuration, database, actions, observers, executor, counters.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { ActionRegistry } from '../actions/registry.js'
import { recordCheckpointError } from '../db/checkpoint.repo.js'
import type { Database } from '../db/types.js'
import type { DeadLetterToWrite } from '../model.js'
import type { ResolvedOptions } from '../options.js'
import type { Executor } from './delivery/executor.js'
import type { Metrics } from './metrics/metrics.js'
import type { ReadAhead } from './read-path/read-ahead.js'
import type { ReaderProgress } from './read-path/reader-progress.js'
import type { LoadedObservers } from './observers/loaded.js'

export interface RuntimeStats {
  eventsProcessed: number
  errors: number
  lastError: string | null
  lastErrorAt: number
}

export interface RuntimeContext {
  readonly options: ResolvedOptions
  readonly db: Kysely<Database>
  readonly schema: string
  readonly log: FastifyBaseLogger
  readonly registry: ActionRegistry
  readonly metrics: Metrics
  readonly stats: RuntimeStats
  readonly observers: LoadedObservers
  /** runs every attempt of every loop, within one `concurrency` bound */
  readonly executor: Executor
  /** how far every stream of the instance together reads ahead of the actions */
  readonly readAhead: ReadAhead
  /** where this instance's readers have committed their streams (a backfill paces itself by it) */
  readonly progress: ReaderProgress
}

/** One warning per action given up on, with its ids (called once the dead letter is committed). */
export function warnDeadLetters (ctx: RuntimeContext, items: readonly DeadLetterToWrite[]): void {
  for (const item of items) {
    ctx.log.warn({ observer_id: item.observer_id, event_id: item.event_id, action_index: item.action_index, code: item.error_code }, `action dead-lettered: ${item.error_message ?? ''}`)
  }
}

export function recordError (ctx: Pick<RuntimeContext, 'stats' | 'log'>, err: unknown, ids: Record<string, unknown>, message: string): void {
  ctx.stats.errors++
  ctx.stats.lastError = `${message}: ${err instanceof Error ? err.message : String(err)}`
  ctx.stats.lastErrorAt = Date.now()
  ctx.log.error({ err, ...ids }, message)
}

export async function recordLoopError (ctx: RuntimeContext, err: unknown): Promise<void> {
  const listenerId = ctx.options.runtime.listenerId
  recordError(ctx, err, { listener_id: listenerId }, 'reading the change log failed; retrying')
  // the database is often what failed: recording the error there may fail too
  await recordCheckpointError(ctx.db, listenerId, err instanceof Error ? err.message : String(err))
    .catch((cause) => ctx.log.debug({ err: cause, listener_id: listenerId }, 'could not record the error on the checkpoint'))
}
