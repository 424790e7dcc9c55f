// The batches between reading and committing: each is executed at once, settled when its last
// attempt ends, and committed strictly in read order, several together when they finish during a
// commit. Each commit is conditional on the checkpoint the previous one wrote, so a failed commit
// fails every later one and the read loop goes back to it: at-least-once, never a skipped row.
import type { LeaseFence } from '../../db/stored.repo.js'
import type { Settlement } from '../../model.js'
import { recordLoopError, type RuntimeContext } from '../context.js'
import type { Plan } from './planning.js'
import type { Batch } from './reading.js'
import { settleGroups, type GroupResult, type KeyOrder } from './ordering.js'
import { InReadOrder } from './change-order.js'
import type { AttemptResult } from '../delivery/attempt.js'
import { settle, settleUnreadable } from '../delivery/settling.js'
import { commitGroup, type SettledBatch } from './group-commit.js'

/** Where attempts that outlived their batch go once it committed (stored/handover.ts). */
export interface HandOver {
  add: (results: readonly AttemptResult[]) => void
  /** resolves once every attempt handed over has ended and been committed */
  drain: () => Promise<void>
}

const NO_GROUPS: Promise<GroupResult[]> = Promise.resolve([])

interface InFlightBatch {
  batch: Batch
  /** when its deliveries started (for the batch duration metric) */
  started: number
  /** what its attempts owe the database; set once every delivery of the batch has finished */
  settlement?: Settlement
  /** set instead of `settlement` when working it out threw */
  failure?: Error
  /** attempts handed over while running: settled on their own once the batch committed */
  handedOver?: AttemptResult[]
  /** keys whose groups it parked: held until it commits */
  parkedKeys?: string[]
  /** true once committed; false when discarded (an earlier commit failed or the checkpoint moved) */
  done: Promise<boolean>
  end: (committed: boolean | Error) => void
}

export class BatchPipeline {
  /** taken and not yet settled by the read loop, in read order */
  private readonly pending: InFlightBatch[] = []
  /** executed or executing and not committed yet, in read order */
  private readonly uncommitted: InFlightBatch[] = []
  /** committing: the next batches wait for it; discarding: a commit failed, every later batch is discarded until settled */
  private commits: 'open' | 'committing' | 'discarding' = 'open'
  private deliveriesInFlight = 0
  private rowsInFlight = 0
  /** the read loop waiting for room or for a batch to finish executing */
  private roomWaiter: (() => void) | undefined
  private readonly groupsInOrder = new InReadOrder()
  constructor (
    private readonly ctx: RuntimeContext,
    /** the order of ordered observers' deliveries per key, across batches */
    private readonly order: KeyOrder,
    /** the lease the batches are read under: their checkpoint (its key) moves only while it is held */
    private readonly lease: () => LeaseFence,
    /** attempts that outlived their batch */
    readonly handOver: HandOver,
    /** told when a committed batch scheduled retries (the retry worker recomputes its sleep) */
    private readonly onRetriesScheduled: (dueAt: number) => void = () => {},
    /** told when a handed-over attempt ended, which frees room when no batch is left to wait for */
    private readonly onRoomFreed: () => void = () => {}
  ) {}

  get rows (): number { return this.rowsInFlight }
  get batches (): number { return this.pending.length }

  /** nothing of this stream in flight: it may read a batch whatever the other streams hold (read-ahead.ts) */
  private get idle (): boolean { return this.pending.length === 0 && this.deliveriesInFlight === 0 }

  /** deliveries the next batch may plan: what `channelCapacity` leaves the instance, or a batch's worth for an idle stream */
  get room (): number {
    const room = this.ctx.readAhead.room
    return room > 0 || !this.idle ? room : this.ctx.options.runtime.batchSize
  }

  /**
   * Room for more deliveries, and no more batches read ahead than the actions can use: enough to
   * keep `concurrency` slots busy while a batch is read and the previous one commits, counted for
   * the instance. Reading further ahead only keeps events longer in memory (bench/README.md).
   */
  hasRoom (): boolean {
    return this.pending.length < this.ctx.readAhead.maxBatches && this.ctx.readAhead.allows(this.idle)
  }

  /** Rows read above the horizon are known to the ledger only once committed: never overlap a read with them. */
  mustSettle (): boolean {
    return this.pending.some((p) => p.batch.ahead.length > 0)
  }

  /** Starts executing a planned batch (its ordered groups once `groupsReady` resolves); it commits after every batch taken before it. */
  submit (batch: Batch, plan: Plan, groupsReady?: Promise<void>): void {
    const { deliveries, groups } = plan
    const count = groups.reduce((n, g) => n + g.deliveries.length, deliveries.length)
    this.deliveriesInFlight += count
    this.ctx.readAhead.batchRead(count)
    this.rowsInFlight += batch.rows.length
    let end: InFlightBatch['end'] = () => {}
    const done = new Promise<boolean>((resolve, reject) => {
      end = (committed) => {
        this.rowsInFlight -= batch.rows.length
        if (committed instanceof Error) reject(committed)
        else resolve(committed)
      }
    })
    // the read loop looks at it when it gets there; until then a failure must not count as unhandled
    done.catch(() => {})
    const entry: InFlightBatch = { batch, started: performance.now(), done, end }
    this.pending.push(entry)
    this.uncommitted.push(entry)
    const { executor } = this.ctx
    const ordered = groups.length === 0 ? NO_GROUPS : this.groupsInOrder.start(groupsReady, () => groups.map((g) => this.order.run(g, (d) => executor.runAll(d))))
    // an unordered delivery frees its room as it ends (a handed-over one when it really ends), so
    // the next batch can be read while this one finishes; an ordered group's when the batch does
    Promise.all([executor.runAll(deliveries, true, this.deliveryEnded), ordered]).then(([results, groupResults]) => {
      const settled = settle(results)
      entry.settlement = settleUnreadable(plan.refused, groupResults.length === 0 ? settled : settleGroups(groupResults, settled))
      const parked = groupResults.filter((g) => g.state === 'parked')
      if (parked.length > 0) entry.parkedKeys = parked.map((g) => g.group.key)
      const handedOver = results.filter((r) => r.detached !== undefined)
      if (handedOver.length > 0) entry.handedOver = handedOver
    }).catch((err: Error) => {
      // a bug, not an outcome: the batch is not committed and the reader goes back to the checkpoint
      entry.failure = err
    }).finally(() => {
      this.deliveriesInFlight -= count - deliveries.length
      this.ctx.readAhead.deliveriesEnded(count - deliveries.length)
      this.wakeRoomWaiter()
      this.commitReady()
    })
  }

  private readonly deliveryEnded = (): void => {
    this.deliveriesInFlight--
    // enough room for a batch worth reading wakes this stream's read loop (and the others')
    this.ctx.readAhead.deliveriesEnded(1)
    // the read loop sleeps when handed-over attempts alone hold the room
    if (this.pending.length === 0) this.onRoomFreed()
  }

  private wakeRoomWaiter (): void {
    const waiter = this.roomWaiter
    this.roomWaiter = undefined
    waiter?.()
  }

  /** Every batch taken is executing (the read-ahead limit), or the oldest has finished executing: the read loop settles the oldest. */
  mustWaitForOldest (): boolean {
    return this.pending.length >= this.ctx.readAhead.maxBatches || this.pending[0]?.settlement !== undefined || this.pending[0]?.failure !== undefined
  }

  /**
   * Resolves once enough room is free for a batch worth reading (deliveries end one by one) or a
   * batch finished executing, whichever comes first: the read loop then reads more or settles the oldest.
   */
  async roomOrBatch (): Promise<void> {
    let stop = (): void => {}
    await new Promise<void>((resolve) => {
      this.roomWaiter = resolve
      stop = this.ctx.readAhead.onRoom(resolve)
    })
    stop()
  }

  /** Group commit: every settled batch at the head of the queue goes into one transaction. */
  private commitReady (): void {
    if (this.commits === 'committing') return
    const group: InFlightBatch[] = []
    for (let head = this.uncommitted[0]; head !== undefined; head = this.uncommitted[0]) {
      if (head.failure !== undefined && group.length === 0) {
        this.uncommitted.shift()
        head.end(this.commits === 'discarding' ? false : head.failure)
        this.commits = 'discarding'
        continue
      }
      if (head.settlement === undefined || head.failure !== undefined) break
      group.push(this.uncommitted.shift() as InFlightBatch)
    }
    if (group.length === 0) return
    if (this.commits === 'discarding') {
      for (const entry of group) entry.end(false)
      return
    }
    this.commits = 'committing'
    commitGroup(this.ctx, this.lease(), group as SettledBatch[], this.onRetriesScheduled).then((committed) => {
      if (!committed) this.commits = 'discarding'
      for (const entry of group) {
        // not committed: the batch is read again, and what its handed-over attempts did is dropped
        if (committed && entry.handedOver !== undefined) this.handOver.add(entry.handedOver)
        if (committed && entry.parkedKeys !== undefined) this.order.parksCommitted(entry.parkedKeys)
        entry.end(committed)
      }
    }, (err: Error) => {
      this.commits = 'discarding'
      // the first batch reports the error; the others are discarded with it
      group[0].end(err)
      for (const entry of group.slice(1)) entry.end(false)
    }).finally(() => {
      if (this.commits === 'committing') this.commits = 'open'
      this.commitReady()
    })
  }

  /**
   * Waits for the oldest batch. False when it was not committed: everything in flight is then
   * settled too, and the caller must restart the reader at the stored checkpoint.
   */
  async settleOldest (): Promise<boolean> {
    const oldest = this.pending.shift()
    if (oldest === undefined) return true
    this.ctx.readAhead.batchSettled()
    let ok = false
    try {
      ok = await oldest.done
    } catch (err) {
      await recordLoopError(this.ctx, err)
    }
    if (!ok) await this.settleAll()
    return ok
  }

  /** Waits for every batch in flight; afterwards the next batch commits on its own merit. */
  async settleAll (): Promise<void> {
    while (this.pending.length > 0) {
      const next = this.pending.shift() as InFlightBatch
      this.ctx.readAhead.batchSettled()
      await next.done.catch(async (err) => { await recordLoopError(this.ctx, err) })
    }
    if (this.commits === 'discarding') this.commits = 'open'
  }
}
