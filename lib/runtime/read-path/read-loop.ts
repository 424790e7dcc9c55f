// The read loop of one listener: it holds the listener's lease, is woken by NOTIFY, and moves
// every batch through the stages: read (reading.ts) -> plan (planning.ts) -> execute, settle and
// commit in order (pipeline.ts). Only this loop moves the reader's position.
import { setTimeout as sleep } from 'node:timers/promises'
import { checkpointChannel } from '../../db/checkpoint.repo.js'
import type { Connection } from '../../db/connection.js'
import { loadHeldKeys } from '../../db/ordering.repo.js'
import { openKyselySession, openPoolSession, type Session } from '../../db/session.js'
import type { LeaseFence } from '../../db/stored.repo.js'
import { recordError, recordLoopError, type RuntimeContext } from '../context.js'
import { BatchPipeline, type HandOver } from './pipeline.js'
import { planBatch } from './planning.js'
import { orderByChange } from './change-order.js'
import { KeyOrder } from './ordering.js'
import { ChangeLogReader } from './reading.js'
import type { Slice } from '../../db/change-log.repo.js'
import { Waker } from '../primitives/waker.js'

/** How often an instance without the lease tries to take it (a dead holder is replaced within this). */
const LEASE_RETRY_MS = 1000
/**
 * A change-log NOTIFY also wakes an instance without the lease (events wait: the holder may have
 * died), but it tries no more often than this: at a thousand commits a second, not a thousand times.
 */
const LEASE_RETRY_MIN_MS = 100
/**
 * How long a loop with a poller (a partition's) waits for a wake-up before it reads on its own: a
 * fallback, since the poller looks at every NOTIFY and every pollIntervalMs and wakes it when rows wait.
 */
const POLLED_FALLBACK_MS = 60_000

/**
 * connecting: no session yet (or it was lost); standby: another instance holds the lease;
 * reading: this one does; rewinding: it does, and an operator moved the checkpoint, so it goes
 * back to it before the next batch.
 */
export type ReadLoopState = 'connecting' | 'standby' | 'reading' | 'rewinding'

export interface ReadLoopHooks {
  /** an observer changed on some instance (NOTIFY) */
  onObserversChanged: () => void
  /** a committed batch scheduled retries, the first of them due at this time (epoch ms) */
  onRetriesScheduled: (dueAt: number) => void
  /** a retry or a dead letter was removed somewhere: a held key may be released (NOTIFY) */
  onKeysMayResolve: () => void
  /** an endpoint's circuit or pause changed somewhere (NOTIFY) */
  onEndpointsChanged: () => void
}

/** What one read loop reads: the whole listener's stream, or one partition of it. */
export interface Stream {
  /** its checkpoint, and the key of its lease */
  id: string
  slice?: Slice
  /**
   * told once the lease is taken, with the backend pid of the session holding it (a partition
   * records a new term); false: the stream is not to be read (its partition count has passed), the lock is let go
   */
  onLeaseTaken?: (pid: number) => Promise<boolean>
  /**
   * looks for rows in this stream with the instance's others, in one statement, on each change-log
   * NOTIFY and each poll interval, and wakes it where they wait (partitions/poller.ts): the loop
   * neither reads on a NOTIFY nor sets a poll timer of its own
   */
  poller?: { committed: (payload: string) => void, look: () => void }
}

export class ReadLoop {
  state: ReadLoopState = 'connecting'
  readonly reader: ChangeLogReader
  /** ordered observers' keys: held ones, and the groups in flight per key */
  readonly order = new KeyOrder()
  readonly pipeline: BatchPipeline
  private session: Session | undefined
  private readonly waker = new Waker()
  /** asleep until changes come: it read everything there was */
  private waiting = false

  constructor (private readonly ctx: RuntimeContext, private readonly connection: Connection, readonly stream: Stream, handOver: HandOver, private readonly hooks: ReadLoopHooks) {
    const rt = ctx.options.runtime
    this.reader = new ChangeLogReader(ctx.db, ctx.schema, stream.id, rt.batchSize, rt.horizonStallMs, Date.now, stream.slice)
    this.pipeline = new BatchPipeline(ctx, this.order, () => this.lease(), handOver, hooks.onRetriesScheduled, () => { this.waker.wake() })
  }

  /** holds the lease */
  get reading (): boolean { return this.state === 'reading' || this.state === 'rewinding' }

  /** it holds the lease, read everything there was, and waits for changes */
  get idle (): boolean { return this.waiting && this.reading }

  wake (): void { this.waker.wake() }

  /** The lease as a fence for commits made on it (no backend holds pid 0: nothing commits once it is lost). */
  lease (): LeaseFence {
    return { namespace: this.ctx.schema, key: this.stream.id, pid: this.reading ? this.session?.pid ?? 0 : 0 }
  }

  /** Reads until `signal` aborts, then lets what is in flight finish (or be interrupted) and commit. */
  async run (signal: AbortSignal): Promise<void> {
    const { ctx, pipeline } = this
    let failures = 0
    while (!signal.aborted) {
      try {
        this.session ??= await this.openSession(signal)
        if (!this.reading && !await this.takeLease(this.session)) {
          const tried = Date.now()
          await this.waker.sleep(LEASE_RETRY_MS, signal)
          const rest = tried + LEASE_RETRY_MIN_MS - Date.now()
          if (rest > 0) await sleep(rest, undefined, { signal, ref: false }).catch(() => {})
          continue
        }
        await this.step(signal)
        failures = 0
      } catch (err) {
        failures++
        await recordLoopError(ctx, err)
        await pipeline.settleAll()
        // when this fails too, the next round tries again (and logs what it meets)
        await this.restart().catch((cause) => ctx.log.debug({ err: cause, listener_id: ctx.options.runtime.listenerId }, 'going back to the checkpoint failed'))
        await sleep(Math.min(100 * 2 ** failures, 5000), undefined, { signal, ref: false }).catch(() => {})
      }
    }
    await pipeline.settleAll()
    await pipeline.handOver.drain()
  }

  /** Releases the lease and closes the session (after run() returned). */
  async close (): Promise<void> {
    const { session } = this
    if (session === undefined) return
    // closing the connection releases the lock anyway
    if (this.reading) {
      await session.unlock(this.ctx.schema, this.stream.id).catch((err) => this.ctx.log.debug({ err }, 'unlocking the lease failed'))
    }
    await session.close()
    this.session = undefined
    this.state = 'connecting'
  }

  private async takeLease (session: Session): Promise<boolean> {
    const { ctx, stream } = this
    await this.pipeline.settleAll() // batches read under a lost lease: their commits are refused
    if (!await session.tryLock(ctx.schema, stream.id)) {
      this.state = 'standby'
      return false
    }
    if (await stream.onLeaseTaken?.(session.pid) === false) {
      await session.unlock(ctx.schema, stream.id)
      this.state = 'standby'
      return false
    }
    this.state = 'reading'
    ctx.log.info({ listener_id: stream.id }, 'lease taken: reading the change log')
    await this.restart()
    return true
  }

  /** Back to what is committed: the stored checkpoint, and the keys held in the database. */
  private async restart (): Promise<void> {
    const [, held] = await Promise.all([this.reader.restart(), loadHeldKeys(this.ctx.db, undefined, this.stream.slice)])
    this.order.reset(held)
  }

  /** One round: a batch read and handed to the pipeline, or a wait for room, for rows or for a wake-up. */
  private async step (signal: AbortSignal): Promise<void> {
    const { ctx, reader, pipeline } = this
    const rt = ctx.options.runtime
    await ctx.observers.refresh()
    if (this.state === 'rewinding') {
      this.state = 'reading'
      await pipeline.settleAll()
      await this.restart()
    }
    if (pipeline.mustSettle() || !pipeline.hasRoom()) {
      // no batch to wait for: handed-over attempts hold the room, and each one ending wakes the loop
      if (pipeline.batches === 0) await this.waker.sleep(rt.pollIntervalMs, signal)
      else if (pipeline.mustSettle() || pipeline.mustWaitForOldest()) await this.settleOldest()
      // short of room only: deliveries free it as they end, so read on before the batch commits
      else await pipeline.roomOrBatch()
      return
    }
    const batch = await reader.next()
    ctx.metrics.reads.inc({ result: batch !== null ? 'rows' : reader.heldBack ? 'held' : 'empty' })
    if (batch === null) {
      if (pipeline.batches > 0) await this.settleOldest()
      else await this.waitForChanges(signal)
      return
    }
    // an observer changed before these rows committed and its NOTIFY has not been handled yet (or
    // cannot be: a caller's Kysely gives no connection to LISTEN on)
    if (rt.autoReload) await ctx.observers.refresh(batch.observersVersion)
    const plan = planBatch(batch.rows, ctx.observers.matcher, pipeline.room, this.order)
    for (const { row, code, message } of plan.refused) {
      recordError(ctx, new Error(message), { change_log_id: row.pk_entity_change_log, event_id: row.id, code }, 'change-log row is not an event; dead-lettered')
    }
    const ordered = plan.groups.length > 0 ? orderByChange(ctx.db, ctx.schema, this.stream.id, batch.rows.slice(0, plan.kept), plan.groups) : undefined
    pipeline.submit(reader.take(batch, plan.kept), plan, ordered)
    // it took everything there was: wait for a NOTIFY (one that came meanwhile of rows not taken
    // ends the wait at once) or the poll interval rather than read again to find nothing; the batch commits meanwhile
    if (batch.full !== true && plan.kept === batch.rows.length) await this.waitForChanges(signal)
  }

  /** Until a NOTIFY of rows not read yet, the poll interval, or (rows held back) a short pause. */
  private async waitForChanges (signal: AbortSignal): Promise<void> {
    const { poller } = this.stream
    // a NOTIFY came during the read of a transaction it did not take: read again; or, when the
    // instance looks for the partitions (the transaction may have written to others only), look
    if (poller === undefined && this.reader.noticedUnread) return
    this.waiting = true
    if (poller !== undefined && this.reader.noticedUnread) poller.look()
    try {
      await this.waker.sleep(this.reader.readAgainInMs(poller !== undefined ? POLLED_FALLBACK_MS : this.ctx.options.runtime.pollIntervalMs), signal)
    } finally {
      this.waiting = false
    }
  }

  private async settleOldest (): Promise<void> {
    if (!await this.pipeline.settleOldest()) await this.restart()
  }

  private async openSession (signal: AbortSignal): Promise<Session> {
    const { ctx, connection } = this
    const { options, schema } = ctx
    const rt = options.runtime
    const session = connection.pool !== undefined
      ? await openPoolSession(connection.pool)
      : await openKyselySession(options.connection.kind === 'db' ? options.connection.db : connection.db)
    session.onLost((err) => {
      if (signal.aborted) return
      ctx.log.warn({ err, listener_id: rt.listenerId }, 'lease connection lost; reconnecting')
      this.state = 'connecting'
      this.session = undefined
      this.waker.wake()
    })
    const changes = `${schema}_changes`
    const observers = `${schema}_observers`
    const checkpoints = checkpointChannel(schema)
    const keys = `${schema}_keys`
    const endpoints = `${schema}_endpoints`
    await session.listen([changes, observers, checkpoints, keys, endpoints], (channel, payload) => {
      if (channel === keys) {
        this.hooks.onKeysMayResolve()
      } else if (channel === endpoints) {
        this.hooks.onEndpointsChanged()
      } else if (channel === observers) {
        if (rt.autoReload) this.hooks.onObserversChanged()
      } else if (channel === checkpoints) {
        // not reading: taking the lease starts from the stored checkpoint anyway
        // the listener's name concerns each of its partitions (a job parked events: held keys reload)
        if ((payload === this.stream.id || payload === rt.listenerId) && this.state === 'reading') {
          this.state = 'rewinding'
          this.waker.wake()
        }
      } else {
        // an awake loop asks the reader before it sleeps (waitForChanges)
        if (this.reader.committed(payload)) {
          if (this.stream.poller !== undefined) this.stream.poller.committed(payload)
          else this.waker.wakeIfAsleep()
        }
      }
    })
    return session
  }
}
