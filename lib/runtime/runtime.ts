// The runtime's lifecycle (start, stop with a drain, reload, health) and the decorator
// `app.observers`. The work itself is done by loops: the read loop (read-path/), the retry and
// parked-release loops (stored/), the endpoints' view (endpoints/worker.ts) and maintenance
// (retention.ts); see lib/runtime/README.md.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { Registry } from 'prom-client'
import { createActionRegistry, type ActionRegistry } from '../actions/registry.js'
import { attachCapture, detachCapture, listCaptures, type AttachResult, type Capture } from '../db/captures.repo.js'
import type { Connection } from '../db/connection.js'
import { deadLetterStats, deleteDeadLetter, getDeadLetter, listDeadLetters, type DeadLetterFilter } from '../db/dead-letter.repo.js'
import type { Database } from '../db/types.js'
import type { ResolvedOptions } from '../options.js'
import { recordError, type RuntimeContext } from './context.js'
import { retryAllDeadLetters, retryDeadLetter } from './stored/dead-letter-retry.js'
import { listEndpoints, resetEndpointByHand, type EndpointView } from './endpoints/admin.js'
import { endpointLoop } from './endpoints/worker.js'
import { EndpointGuard } from './endpoints/guard.js'
import { Executor, HANDOVER_MS } from './delivery/executor.js'
import { ReadAhead } from './read-path/read-ahead.js'
import { ReaderProgress } from './read-path/reader-progress.js'
import { readHealth, sharedGauges, type Health } from './health.js'
import { createMetrics } from './metrics/metrics.js'
import { LoadedObservers } from './observers/loaded.js'
import type { ChangeLogReader } from './read-path/reading.js'
import { maintenanceLoop } from './retention.js'
import { retryLoop } from './stored/retry-worker.js'
import { checkPartitions, partitionedStreams, wholeStream, type StreamHooks } from './streams.js'
import { jobLoop } from './jobs/worker.js'
import { Waker } from './primitives/waker.js'
import { Throughput, throughputLoop, type ThroughputView } from './throughput.js'

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
  /** endpoint protection (SPEC 9.3) */
  endpoints: {
    list: () => Promise<EndpointView[]>
    /** closes the circuit; with enableObservers, re-enables the observers its disabling disabled */
    reset: (endpoint: string, enableObservers: boolean) => Promise<{ closed: boolean }>
  }
  /** a job was queued or resumed: this instance's job worker looks for it now */
  wakeJobs: () => void
  /** change-log rows in flight right now (this process) */
  inFlight: () => number
  /** deliveries per second and lag over the last `seconds` seconds, every instance's (the console's overview) */
  throughput: (seconds: number) => Promise<ThroughputView>
}

export interface RuntimeDeps {
  options: ResolvedOptions
  connection: Connection
  log: FastifyBaseLogger
}

/** stopped -> running (start) -> stopping (stop: drain, then interrupt at shutdownTimeoutMs) -> stopped */
type Lifecycle =
  | { state: 'stopped' }
  | { state: 'running', abort: AbortController, loops: Array<Promise<void>> }
  | { state: 'stopping', stopped: Promise<void> }

export function createRuntime ({ options, connection, log }: RuntimeDeps): ObserversApi {
  const { db } = connection
  const rt = options.runtime
  const registry = createActionRegistry({ allowPrivate: options.network.allowPrivate, smtp: options.smtp, env: process.env, db, log }, options.actions)
  // a scrape refreshes the gauges that read the database (one statement, shared with health); when
  // it fails the scrape still answers, with the gauges' last values
  const metrics = createMetrics(async () => {
    await gauges.get().catch((err: Error) => { log.warn({ err }, 'metrics: could not read the gauges from the database') })
  }, async () => {
    await streams.refreshMetrics().catch((err: Error) => { log.warn({ err }, 'metrics: could not read the partitions\' lag') })
  })
  const stats = { eventsProcessed: 0, errors: 0, lastError: null, lastErrorAt: 0 }
  const endpoints = new EndpointGuard(db, log, rt.circuitBreaker, rt.maxInFlightPerEndpoint, HANDOVER_MS)
  const observers = new LoadedObservers(db, log, {
    onEvaluationError: (observer, event, err) => {
      recordError(ctx, err, { observer_id: observer.id, event_id: event.event_id }, 'condition failed while evaluated; the event is not delivered to this observer')
    },
    endpointOf: registry.endpointOf,
    onReloaded: ({ kind, rows }) => { metrics.reloads.inc({ kind }); metrics.reloadRows.inc({ kind }, rows) }
  })
  endpoints.setUsers(observers.users)
  const ctx: RuntimeContext = {
    options,
    db,
    schema: options.schema,
    log,
    registry,
    metrics,
    stats,
    observers,
    executor: new Executor(registry, rt.concurrency, metrics, log, endpoints),
    readAhead: new ReadAhead(rt),
    progress: new ReaderProgress()
  }
  const gauges = sharedGauges(ctx, currentReader)
  const retryWaker = new Waker()
  endpoints.onWaitsDue = () => { retryWaker.wake() }
  const endpointWaker = new Waker()
  const jobWaker = new Waker()
  // a delivery waiting for a busy or open endpoint is due much later: no need to wake for it
  const onRetriesScheduled = (dueAt: number): void => { retryWaker.wakeBy(dueAt) }
  const hooks: StreamHooks = { onObserversChanged: requestReload, onRetriesScheduled, onEndpointsChanged: () => { endpointWaker.wake() } }
  const streams = rt.partitions === 1 ? wholeStream(ctx, connection, hooks) : partitionedStreams(ctx, connection, hooks)
  ctx.progress.readsWholeStream = () => rt.partitions === 1 && streams.held().length > 0
  let lifecycle: Lifecycle = { state: 'stopped' }
  const throughput = new Throughput(ctx)

  function requestReload (): void {
    observers.markStale()
    streams.wake()
    retryWaker.wake()
  }

  async function start (): Promise<void> {
    if (lifecycle.state === 'stopping') await lifecycle.stopped
    if (lifecycle.state !== 'stopped') return
    await checkPartitions(ctx)
    if (lifecycle.state !== 'stopped') return
    const abort = new AbortController()
    ctx.executor.reset()
    const loops = [
      streams.run(abort.signal),
      retryLoop(ctx, retryWaker, abort.signal),
      endpointLoop(endpoints, metrics.endpointState, endpointWaker, {
        onDisabled: requestReload,
        onError: (err) => { recordError(ctx, err, {}, 'reading the endpoints\' state failed; retrying') }
      }, abort.signal),
      maintenanceLoop(ctx, requestReload, abort.signal),
      throughputLoop(throughput, currentReader, () => streams.held().includes(0), abort.signal),
      jobLoop(ctx, jobWaker, abort.signal)
    ]
    lifecycle = { state: 'running', abort, loops }
  }

  async function stop (): Promise<void> {
    if (lifecycle.state === 'stopped') return
    if (lifecycle.state === 'stopping') return await lifecycle.stopped
    const stopped = drain(lifecycle.abort, lifecycle.loops)
    lifecycle = { state: 'stopping', stopped }
    try {
      await stopped
    } finally {
      lifecycle = { state: 'stopped' }
    }
  }

  /** In-flight actions get shutdownTimeoutMs, then are interrupted (and rescheduled); the lease is released. */
  async function drain (abort: AbortController, loops: Array<Promise<void>>): Promise<void> {
    abort.abort()
    streams.wake()
    retryWaker.wake()
    endpointWaker.wake()
    jobWaker.wake()
    const drained = Promise.all(loops)
    const deadline = new AbortController()
    await Promise.race([drained, sleep(rt.shutdownTimeoutMs, undefined, { signal: deadline.signal }).catch(() => {})])
    deadline.abort()
    ctx.executor.interruptAll(new Error('shutdown'))
    await drained
    await streams.close()
  }

  /** the reader, when this instance holds the lease: its position is current */
  function currentReader (): ChangeLogReader | undefined {
    return streams.reader()
  }

  async function health (): Promise<Health> {
    return await readHealth(ctx, { running: lifecycle.state !== 'stopped', reader: currentReader(), held: streams.held().length, gauges })
  }

  return {
    db,
    schema: options.schema,
    options,
    actions: registry,
    metrics: metrics.registry,
    start,
    stop,
    reload: async () => await observers.reload(),
    requestReload,
    health,
    deadLetters: {
      list: async (filter, limit, cursor) => await listDeadLetters(db, filter, limit, cursor),
      get: async (id) => await getDeadLetter(db, id),
      delete: async (id) => await deleteDeadLetter(db, id),
      stats: async (filter) => await deadLetterStats(db, filter),
      retry: async (id, filter) => await retryDeadLetter(ctx, id, filter),
      retryAll: async (filter) => await retryAllDeadLetters(ctx, filter)
    },
    captures: {
      list: async () => await listCaptures(db, options.schema),
      attach: async (input) => await attachCapture(db, options.schema, input),
      detach: async (tableSchema, table) => await detachCapture(db, options.schema, tableSchema, table)
    },
    endpoints: {
      list: async () => await listEndpoints(db, endpoints),
      reset: async (endpoint, enableObservers) => {
        const result = await resetEndpointByHand(db, endpoints, metrics.endpointState, endpoint, enableObservers)
        if (enableObservers) requestReload()
        return result
      }
    },
    wakeJobs: () => { jobWaker.wake() },
    inFlight: () => streams.inFlight(),
    throughput: async (seconds) => await throughput.view(seconds)
  }
}
