// The health report of SPEC section 8, shared by app.observers.health() and the health route.
import { Type, type Static } from 'typebox'
import { transactionHolding } from '../db/change-log.repo.js'
import { readGauges, type Gauges } from '../db/gauges.repo.js'
import { partitionBacklogs } from '../db/partitions.repo.js'
import { SharedReading } from '../shared-reading.js'
import type { RuntimeContext } from './context.js'
import type { ChangeLogReader, HorizonState } from './read-path/reading.js'

export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('degraded')]),
  running: Type.Boolean(),
  listener_id: Type.String(),
  /** this instance holds the listener's lease and reads the change log */
  reading: Type.Boolean(),
  /** partitions of the stream this instance reads (runtime.partitions; the whole stream counts as one) */
  partitions_held: Type.Integer(),
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
  /** how many partitions this instance reads */
  held: number
  gauges: SharedGauges
}

export type SharedGauges = SharedReading<Gauges & { lagSeconds: number }>

/**
 * How old the database figures of health and metrics may be: however often they are asked for
 * (health needs no token), the database answers one gauges statement per period per instance.
 */
export const GAUGES_MAX_AGE_MS = 2000

/** The gauges health and the metrics' scrape share, read from the reader of the moment. */
export function sharedGauges (ctx: RuntimeContext, reader: () => ChangeLogReader | undefined): SharedGauges {
  return new SharedReading(GAUGES_MAX_AGE_MS, async () => await refreshGauges(ctx, reader()))
}

/**
 * The database figures of health, in one statement (a metrics scrape runs only this), measured
 * from the reader's position when this instance reads the whole stream, else from the stored
 * checkpoint (a partitioned listener's slowest); they also refresh the metrics' gauges.
 */
export async function refreshGauges (ctx: RuntimeContext, reader: ChangeLogReader | undefined, now = Date.now()): Promise<Gauges & { lagSeconds: number }> {
  // a partitioned listener's reader of the moment reads one partition: the stored checkpoints say more
  const { listenerId, partitions } = ctx.options.runtime
  const partitioned = partitions > 1
  const gauges = await readGauges(ctx.db, ctx.schema, listenerId, partitioned ? undefined : reader?.position, partitioned)
  if (partitioned) {
    // each partition's backlog along its own index: rows of one partition after another's
    // checkpoint are no lag (the slowest checkpoint alone would count them)
    const backlogs = await partitionBacklogs(ctx.db, ctx.schema, listenerId, partitions)
    gauges.lagEvents = backlogs.reduce((sum, b) => sum + b.lag, 0)
    const oldest = backlogs.flatMap((b) => b.oldest === null ? [] : [b.oldest.getTime()])
    gauges.oldestUnreadAt = oldest.length === 0 ? null : new Date(Math.min(...oldest))
  }
  const lagSeconds = gauges.oldestUnreadAt === null ? 0 : Math.max(0, (now - gauges.oldestUnreadAt.getTime()) / 1000)
  const { metrics } = ctx
  metrics.lagEvents.set(gauges.lagEvents)
  metrics.lagSeconds.set(lagSeconds)
  metrics.retriesPending.set(gauges.retriesPending)
  metrics.deadLetters.set(gauges.deadLetters)
  metrics.blockedKeys.set(gauges.blockedKeys)
  metrics.parkedEvents.set(gauges.parkedEvents)
  return { ...gauges, lagSeconds }
}

/** The health report; its database figures also refresh the metrics' gauges. */
export async function readHealth (ctx: RuntimeContext, view: HealthView): Promise<Health> {
  const { options, stats } = ctx
  const { running, reader } = view
  const gauges = await view.gauges.get()
  const held = reader !== undefined ? await horizonHolder(ctx, reader.horizon) : null
  const recentError = Date.now() - stats.lastErrorAt < 30_000
  return {
    status: !running ? 'stopped' : recentError || held !== null ? 'degraded' : 'running',
    running,
    listener_id: options.runtime.listenerId,
    reading: reader !== undefined,
    partitions_held: view.held,
    observer_count: ctx.observers.matcher.size,
    checkpoint: gauges.position === null || gauges.position.id === '0' ? null : gauges.position.id,
    events_processed: stats.eventsProcessed,
    errors: stats.errors,
    lag_events: gauges.lagEvents,
    lag_seconds: Math.round(gauges.lagSeconds * 1000) / 1000,
    retries_pending: gauges.retriesPending,
    dead_letters: gauges.deadLetters,
    blocked_keys: gauges.blockedKeys,
    parked_events: gauges.parkedEvents,
    horizon_held: held,
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
