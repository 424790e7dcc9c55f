// The runtime's lifecycle: start, stop (drain), reload, health; and the decorator `app.observers`.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { Registry } from 'prom-client'
import { createActionRegistry, type ActionRegistry } from '../actions/registry.js'
import type { ActionServices } from '../actions/types.js'
import { attachCapture, detachCapture, listCaptures, type AttachResult, type Capture } from '../db/captures.repo.js'
import { readLag, readObserversVersion } from '../db/change-log.repo.js'
import { checkpointChannel, getCheckpoint } from '../db/checkpoint.repo.js'
import type { Connection } from '../db/connection.js'
import { countDeadLetters, deadLetterStats, deleteDeadLetter, getDeadLetter, listDeadLetters, type DeadLetterFilter } from '../db/dead-letter.repo.js'
import { loadActiveObservers } from '../db/observers.repo.js'
import { countRetries, nextRetryDue } from '../db/retry.repo.js'
import { openKyselySession, openPoolSession, type Session } from '../db/session.js'
import type { Database } from '../db/types.js'
import type { ResolvedOptions } from '../options.js'
import { recordError, type RuntimeContext } from './context.js'
import { retryAllDeadLetters, retryDeadLetter } from './dead-letters.js'
import type { Health } from './health.js'
import { horizonHolder } from './horizon.js'
import { buildMatcher } from './matcher.js'
import { createMetrics } from './metrics.js'
import { Limiter } from './concurrency.js'
import { InFlightAttempts } from './executor.js'
import { ReadPipeline, recordLoopError } from './read-loop.js'
import { ChangeLogReader } from './reader.js'
import { runRetention } from './retention.js'
import { runDueRetries } from './retry-worker.js'
import { Waker } from './waker.js'

/** How often an instance without the lease tries to take it (a dead holder is replaced within this). */
const LEASE_RETRY_MS = 1000
const RETENTION_EVERY_MS = 10 * 60_000

export interface ObserversApi {
  /** Kysely bound to the plugin's schema */
  readonly db: Kysely<Database>
  readonly schema: string
  readonly options: ResolvedOptions
  readonly actions: ActionRegistry
  readonly metrics: Registry
  start: () => Promise<void>
  stop: () => Promise<void>
  /** reloads the observers now; returns how many are loaded (enabled and live) */
  reload: () => Promise<number>
  /** asks every loop to reload before its next batch (the API calls it after a change) */
  requestReload: () => void
  health: () => Promise<Health>
  deadLetters: {
    list: (filter: DeadLetterFilter, limit: number, cursor?: string) => ReturnType<typeof listDeadLetters>
    get: (id: string) => ReturnType<typeof getDeadLetter>
    delete: (id: string) => Promise<boolean>
    stats: (filter?: DeadLetterFilter) => ReturnType<typeof deadLetterStats>
    retry: (id: string, filter?: DeadLetterFilter) => ReturnType<typeof retryDeadLetter>
    retryAll: (filter: DeadLetterFilter) => ReturnType<typeof retryAllDeadLetters>
  }
  /** the capture trigger on application tables */
  captures: {
    list: () => Promise<Capture[]>
    attach: (input: { schema?: string, table: string, entity_type?: string, id_column?: string }) => Promise<AttachResult>
    detach: (tableSchema: string, table: string) => Promise<boolean>
  }
  /** change-log rows in flight right now (this process) */
  inFlight: () => number
}

export interface RuntimeDeps {
  options: ResolvedOptions
  connection: Connection
  log: FastifyBaseLogger
}

export function createRuntime ({ options, connection, log }: RuntimeDeps): ObserversApi {
  const rt = options.runtime
  const services: ActionServices = {
    allowPrivate: options.network.allowPrivate,
    smtp: options.smtp as Record<string, unknown> | undefined,
    env: process.env,
    db: connection.db,
    log
  }
  const registry = createActionRegistry(services, options.actions)
  // gauges are refreshed from the database when scraped, through the same query health() runs
  const metrics = createMetrics(async () => { await health() })
  const ctx: RuntimeContext = {
    options,
    db: connection.db,
    schema: options.schema,
    log,
    registry,
    services,
    metrics,
    stats: { eventsProcessed: 0, errors: 0, lastError: null, lastErrorAt: 0 },
    matcher: buildMatcher([]),
    observersById: new Map(),
    inFlight: new InFlightAttempts(),
    limiter: new Limiter(rt.concurrency)
  }
  const reader = new ChangeLogReader(connection.db, options.schema, rt.listenerId, rt.batchSize, rt.horizonStallMs)
  const readWaker = new Waker()
  const retryWaker = new Waker()
  let running = false
  let reading = false
  let loaded = false
  /** tb_observer's version the matcher was built from */
  let loadedVersion = '0'
  let reloadRequested = false
  /** an operator moved this listener's checkpoint: re-read it before the next batch */
  let checkpointMoved = false
  let stopReading: AbortController | undefined
  let loops: Array<Promise<void>> = []
  let session: Session | undefined
  let pipelineRows = (): number => 0

  async function reload (): Promise<number> {
    reloadRequested = false
    // the version first: a change committed in between makes the next batch reload again
    const version = await readObserversVersion(connection.db)
    const observers = await loadActiveObservers(connection.db)
    ctx.matcher = buildMatcher(observers, {
      onInvalid: (observer, err) => log.error({ err, observer_id: observer.id }, 'observer skipped: its condition does not compile'),
      onEvaluationError: (observer, event, err) => {
        recordError(ctx, err, { observer_id: observer.id, event_id: event.event_id }, 'condition failed while evaluated; the event is not delivered to this observer')
      }
    })
    ctx.observersById = new Map(observers.map((o) => [o.id, o]))
    if (BigInt(version) > BigInt(loadedVersion)) loadedVersion = version
    loaded = true
    return ctx.matcher.size
  }

  function requestReload (): void {
    reloadRequested = true
    readWaker.wake()
    retryWaker.wake()
  }

  async function openSession (signal: AbortSignal): Promise<Session> {
    const s = connection.pool !== undefined ? await openPoolSession(connection.pool) : await openKyselySession(options.connection.kind === 'db' ? options.connection.db : connection.db)
    s.onLost((err) => {
      if (signal.aborted) return
      log.warn({ err, listener_id: rt.listenerId }, 'lease connection lost; reconnecting')
      reading = false
      session = undefined
      readWaker.wake()
    })
    const changes = `${options.schema}_changes`
    const observers = `${options.schema}_observers`
    const checkpoints = checkpointChannel(options.schema)
    await s.listen([changes, observers, checkpoints], (channel, payload) => {
      if (channel === observers) {
        if (rt.autoReload) requestReload()
      } else if (channel === checkpoints) {
        if (payload === rt.listenerId) {
          checkpointMoved = true
          readWaker.wake()
        }
      } else {
        reader.committed(payload)
        readWaker.wake()
      }
    })
    return s
  }

  async function readLoop (signal: AbortSignal): Promise<void> {
    const pipeline = new ReadPipeline(ctx, reader, () => retryWaker.wake())
    pipelineRows = () => pipeline.rows
    let failures = 0
    while (!signal.aborted) {
      try {
        if (session === undefined) session = await openSession(signal)
        if (!reading) {
          await pipeline.settleAll() // batches read under a lost lease: their commits are refused
          reading = await session.tryLock(options.schema, rt.listenerId)
          if (!reading) {
            await readWaker.sleep(LEASE_RETRY_MS, signal)
            continue
          }
          log.info({ listener_id: rt.listenerId }, 'lease taken: reading the change log')
          await reader.load()
        }
        if (reloadRequested || !loaded) await reload()
        if (checkpointMoved) {
          checkpointMoved = false
          await pipeline.settleAll()
          await reader.load()
        }
        if (pipeline.mustSettle() || !pipeline.hasRoom()) {
          await pipeline.settleOldest()
          continue
        }
        const batch = await reader.next()
        ctx.metrics.reads.inc({ result: batch !== null ? 'rows' : reader.heldBack ? 'held' : 'empty' })
        // an observer changed before these rows committed and its NOTIFY has not been handled yet
        // (or cannot be: a caller's Kysely gives us no connection to LISTEN on)
        if (rt.autoReload && batch?.observersVersion !== undefined && BigInt(batch.observersVersion) > BigInt(loadedVersion)) await reload()
        if (batch !== null) {
          pipeline.submit(batch)
          // it took everything there was: wait for a NOTIFY (one that came meanwhile ends the wait
          // at once) or the poll interval rather than read again to find nothing; the batch
          // commits meanwhile (at 200 events/s that re-read was 2 of ~6 statements per event)
          if (batch.full !== true) await readWaker.sleep(reader.readAgainInMs(rt.pollIntervalMs), signal)
        } else if (pipeline.batches > 0) await pipeline.settleOldest()
        else await readWaker.sleep(reader.readAgainInMs(rt.pollIntervalMs), signal)
        failures = 0
      } catch (err) {
        failures++
        await recordLoopError(ctx, err)
        await pipeline.settleAll()
        // when this fails too, the next round tries again (and logs what it meets)
        await reader.load().catch((cause) => log.debug({ err: cause, listener_id: rt.listenerId }, 'reloading the checkpoint failed'))
        await sleep(Math.min(100 * 2 ** failures, 5000), undefined, { signal, ref: false }).catch(() => {})
      }
    }
    // stopping: what is in flight finishes (or is interrupted at the deadline) and is committed
    await pipeline.settleAll()
  }

  async function retryLoop (signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        if (!loaded) await reload()
        if (reloadRequested && !reading) await reload()
        const ran = await runDueRetries(ctx)
        if (ran > 0) continue
        const due = await nextRetryDue(connection.db)
        const wait = due === null ? 1000 : Math.max(0, Math.min(1000, due.getTime() - Date.now()))
        await retryWaker.sleep(wait, signal)
      } catch (err) {
        recordError(ctx, err, {}, 'running due retries failed; retrying')
        await sleep(1000, undefined, { signal, ref: false }).catch(() => {})
      }
    }
  }

  async function maintenanceLoop (signal: AbortSignal): Promise<void> {
    let nextReload = Date.now() + rt.reloadIntervalSecs * 1000
    let nextRetention = Date.now() + 30_000
    while (!signal.aborted) {
      await sleep(Math.max(10, Math.min(nextReload, nextRetention) - Date.now()), undefined, { signal, ref: false }).catch(() => {})
      if (signal.aborted) return
      if (rt.autoReload && Date.now() >= nextReload) {
        requestReload()
        nextReload = Date.now() + rt.reloadIntervalSecs * 1000
      }
      if (Date.now() >= nextRetention) {
        await runRetention(ctx, signal).catch((err) => recordError(ctx, err, {}, 'retention failed'))
        nextRetention = Date.now() + RETENTION_EVERY_MS
      }
    }
  }

  async function start (): Promise<void> {
    if (running) return
    running = true
    stopReading = new AbortController()
    ctx.inFlight.reset()
    const signal = stopReading.signal
    loops = [readLoop(signal), retryLoop(signal), maintenanceLoop(signal)]
  }

  async function stop (): Promise<void> {
    if (!running) return
    stopReading?.abort()
    readWaker.wake()
    retryWaker.wake()
    // drain: in-flight actions get shutdownTimeoutMs, then are interrupted (and rescheduled)
    const drained = Promise.all(loops)
    const deadline = sleep(rt.shutdownTimeoutMs, undefined, { ref: false })
    await Promise.race([drained, deadline])
    ctx.inFlight.interruptAll(new Error('shutdown'))
    await drained
    if (session !== undefined) {
      // closing the connection below releases the lock anyway
      if (reading) await session.unlock(options.schema, rt.listenerId).catch((err) => log.debug({ err, listener_id: rt.listenerId }, 'unlocking the lease failed'))
      await session.close()
      session = undefined
    }
    reading = false
    running = false
  }

  async function health (): Promise<Health> {
    const checkpoint = reading ? { position: reader.position } : await getCheckpoint(connection.db, rt.listenerId)
    const lag = checkpoint === undefined ? { events: 0, seconds: 0 } : await readLag(connection.db, checkpoint.position)
    const retries = await countRetries(connection.db)
    const deadLetters = await countDeadLetters(connection.db)
    const held = reading ? await horizonHolder(connection.db, reader.horizon, rt.horizonStallMs) : null
    metrics.lagEvents.set(lag.events)
    metrics.lagSeconds.set(lag.seconds)
    metrics.retriesPending.set(retries.pending)
    metrics.deadLetters.set(deadLetters)
    const recentError = Date.now() - ctx.stats.lastErrorAt < 30_000
    return {
      status: !running ? 'stopped' : recentError || held !== null ? 'degraded' : 'running',
      running,
      listener_id: rt.listenerId,
      reading,
      observer_count: ctx.matcher.size,
      checkpoint: checkpoint === undefined || checkpoint.position.id === '0' ? null : checkpoint.position.id,
      events_processed: ctx.stats.eventsProcessed,
      errors: ctx.stats.errors,
      lag_events: lag.events,
      lag_seconds: Math.round(lag.seconds * 1000) / 1000,
      retries_pending: retries.pending,
      dead_letters: deadLetters,
      horizon_held: held,
      last_error: ctx.stats.lastError
    }
  }

  return {
    db: connection.db,
    schema: options.schema,
    options,
    actions: registry,
    metrics: metrics.registry,
    start,
    stop,
    reload,
    requestReload,
    health,
    deadLetters: {
      list: async (filter, limit, cursor) => await listDeadLetters(connection.db, filter, limit, cursor),
      get: async (id) => await getDeadLetter(connection.db, id),
      delete: async (id) => await deleteDeadLetter(connection.db, id),
      stats: async (filter) => await deadLetterStats(connection.db, filter),
      retry: async (id, filter) => await retryDeadLetter(ctx, id, filter),
      retryAll: async (filter) => await retryAllDeadLetters(ctx, filter)
    },
    captures: {
      list: async () => await listCaptures(connection.db, options.schema),
      attach: async (input) => await attachCapture(connection.db, options.schema, input),
      detach: async (tableSchema, table) => await detachCapture(connection.db, options.schema, tableSchema, table)
    },
    inFlight: () => pipelineRows()
  }
}
