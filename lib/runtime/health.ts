// The health report of SPEC section 8, shared by app.observers.health() and the health route.
import { Type, type Static } from 'typebox'
import { readLag, transactionHolding } from '../db/change-log.repo.js'
import { getCheckpoint } from '../db/checkpoint.repo.js'
import { countDeadLetters } from '../db/dead-letter.repo.js'
import { countHeld } from '../db/ordering.repo.js'
import { countRetries } from '../db/retry.repo.js'
import type { RuntimeContext } from './context.js'
import type { ChangeLogReader, HorizonState } from './reading.js'

export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('degraded')]),
  running: Type.Boolean(),
  listener_id: Type.String(),
  /** this instance holds the listener's lease and reads the change log */
  reading: Type.Boolean(),
  observer_count: Type.Integer(),
  /** change-log id of the checkpoint, null before the first batch */
  checkpoint: Type.Union([Type.String(), Type.Null()]),
  events_processed: Type.Integer(),
  errors: Type.Integer(),
  lag_events: Type.Integer(),
  lag_seconds: Type.Number(),
  retries_pending: Type.Integer(),
  dead_letters: Type.Integer(),
  /** entities ordered observers hold (a delivery of theirs failed), and the events waiting behind them */
  blocked_keys: Type.Integer(),
  parked_events: Type.Integer(),
  /** set while an open transaction holds the commit-order horizon back */
  horizon_held: Type.Union([Type.Null(), Type.Object({
    since: Type.String({ format: 'date-time' }),
    pid: Type.Union([Type.Integer(), Type.Null()]),
    transaction_started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
  })]),
  last_error: Type.Union([Type.String(), Type.Null()])
}, { title: 'RuntimeHealth' })

export type Health = Static<typeof HealthSchema>

export interface HealthView {
  running: boolean
  /** this instance holds the lease: its reader's position and horizon are current */
  reader: ChangeLogReader | undefined
}

/** The health report; its database figures also refresh the metrics' gauges. */
export async function readHealth (ctx: RuntimeContext, view: HealthView): Promise<Health> {
  const { db, options, metrics, stats } = ctx
  const { running, reader } = view
  const checkpoint = reader !== undefined ? { position: reader.position } : await getCheckpoint(db, options.runtime.listenerId)
  const lag = checkpoint === undefined ? { events: 0, seconds: 0 } : await readLag(db, checkpoint.position)
  const retries = await countRetries(db)
  const deadLetters = await countDeadLetters(db)
  const held = await countHeld(db, ctx.schema)
  const horizonHeld = reader !== undefined ? await horizonHolder(ctx, reader.horizon) : null
  metrics.lagEvents.set(lag.events)
  metrics.lagSeconds.set(lag.seconds)
  metrics.retriesPending.set(retries.pending)
  metrics.deadLetters.set(deadLetters)
  metrics.blockedKeys.set(held.keys)
  metrics.parkedEvents.set(held.parked)
  const recentError = Date.now() - stats.lastErrorAt < 30_000
  return {
    status: !running ? 'stopped' : recentError || horizonHeld !== null ? 'degraded' : 'running',
    running,
    listener_id: options.runtime.listenerId,
    reading: reader !== undefined,
    observer_count: ctx.observers.matcher.size,
    checkpoint: checkpoint === undefined || checkpoint.position.id === '0' ? null : checkpoint.position.id,
    events_processed: stats.eventsProcessed,
    errors: stats.errors,
    lag_events: lag.events,
    lag_seconds: Math.round(lag.seconds * 1000) / 1000,
    retries_pending: retries.pending,
    dead_letters: deadLetters,
    blocked_keys: held.keys,
    parked_events: held.parked,
    horizon_held: horizonHeld,
    last_error: stats.lastError
  }
}

/** The open transaction that holds the commit-order horizon back, once it has for `horizonStallMs`. */
async function horizonHolder (ctx: RuntimeContext, horizon: HorizonState | null, now = Date.now()): Promise<Health['horizon_held']> {
  if (horizon === null || !horizon.blocking || now - horizon.since < ctx.options.runtime.horizonStallMs) return null
  const holder = await transactionHolding(ctx.db, horizon.xmin)
  return {
    since: new Date(horizon.since).toISOString(),
    pid: holder?.pid ?? null,
    transaction_started_at: holder?.xact_start === null || holder?.xact_start === undefined ? null : new Date(holder.xact_start).toISOString()
  }
}
