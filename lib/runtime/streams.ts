// The streams this instance reads: the listener's whole stream (one partition, the default), or
// the partitions membership gives it (partitions/membership.ts). A stream is a read loop with what
// serves it: the attempts it hands over and the release of its held keys' parked events.
import type { Connection } from '../db/connection.js'
import { recordPartitions } from '../db/partitions.repo.js'
import { listenerState } from '../db/resplit.repo.js'
import type { LeaseFence } from '../db/stored.repo.js'
import type { RuntimeContext } from './context.js'
import { Membership } from './partitions/membership.js'
import { Waker } from './primitives/waker.js'
import { ReadLoop, type ReadLoopHooks, type Stream } from './read-path/read-loop.js'
import type { ChangeLogReader } from './read-path/reading.js'
import { HandedOverAttempts } from './stored/handover.js'
import { releaseLoop } from './stored/parked-release.js'

export type StreamHooks = Omit<ReadLoopHooks, 'onKeysMayResolve'>

/** One stream's read loop, handed-over attempts and parked-event release. */
export class StreamRunner {
  readonly loop: ReadLoop
  private readonly releases = new Waker()

  constructor (private readonly ctx: RuntimeContext, connection: Connection, stream: Stream, hooks: StreamHooks) {
    const handOver = new HandedOverAttempts(ctx, { onRetriesScheduled: hooks.onRetriesScheduled }, (): LeaseFence => this.loop.lease())
    this.loop = new ReadLoop(ctx, connection, stream, handOver, { ...hooks, onKeysMayResolve: () => { this.releases.wake() } })
  }

  /** Until `signal` aborts; then what is in flight finishes (or is interrupted) and commits. */
  async run (signal: AbortSignal): Promise<void> {
    await Promise.all([this.loop.run(signal), releaseLoop(this.ctx, this.loop, this.releases, signal)])
  }

  wake (): void {
    this.loop.wake()
    this.releases.wake()
  }

  async close (): Promise<void> { await this.loop.close() }
}

/** What the runtime needs of the streams, however many there are. */
export interface Streams {
  run: (signal: AbortSignal) => Promise<void>
  wake: () => void
  /** after run() returned: leases released, sessions closed */
  close: () => Promise<void>
  /** a reader whose position is current (one this instance holds the lease of) */
  reader: () => ChangeLogReader | undefined
  /** partitions held now (the whole stream counts as partition 0) */
  held: () => number[]
  /** change-log rows in flight */
  inFlight: () => number
  /** the gauges of the partitions, at scrape time */
  refreshMetrics: () => Promise<void>
}

/** The whole listener's stream, read by whichever instance holds its lease. */
export function wholeStream (ctx: RuntimeContext, connection: Connection, hooks: StreamHooks): Streams {
  const runner = new StreamRunner(ctx, connection, { id: ctx.options.runtime.listenerId }, hooks)
  return {
    run: async (signal) => { await runner.run(signal) },
    wake: () => { runner.wake() },
    close: async () => { await runner.close() },
    reader: () => runner.loop.reading ? runner.loop.reader : undefined,
    held: () => runner.loop.reading ? [0] : [],
    inFlight: () => runner.loop.pipeline.rows,
    refreshMetrics: async () => {}
  }
}

/** The partitions membership gives this instance, each a stream of its own. */
export function partitionedStreams (ctx: RuntimeContext, connection: Connection, hooks: StreamHooks): Streams & { membership: Membership } {
  const membership = new Membership(ctx, (stream) => new StreamRunner(ctx, connection, stream, hooks))
  return {
    membership,
    run: async (signal) => { await membership.run(signal) },
    wake: () => { for (const stream of membership.streams()) stream.wake() },
    // each partition's session is closed as it is handed over
    close: async () => {},
    reader: () => membership.streams().find((s) => s.loop.reading)?.loop.reader,
    held: () => membership.held(),
    inFlight: () => membership.streams().reduce((n, s) => n + s.loop.pipeline.rows, 0),
    refreshMetrics: async () => { await membership.refreshMetrics() }
  }
}

/**
 * The partition count this listener runs with, recorded at its first start: a different one is
 * refused, since the stream would be split unlike its checkpoints; but for the count a re-split
 * under way goes to (the instance reads with the recorded count until the switch).
 */
export async function checkPartitions (ctx: RuntimeContext): Promise<void> {
  const { listenerId, partitions } = ctx.options.runtime
  const recorded = await recordPartitions(ctx.db, ctx.schema, listenerId, partitions)
  if (recorded !== partitions) {
    const state = await listenerState(ctx.db, ctx.schema, listenerId)
    if (recorded > 1 && partitions > 1 && state?.resplit?.partitions === partitions) return
    throw new Error(`runtime.partitions is ${partitions}, but listener '${listenerId}' runs with ${recorded} partitions: ` +
      `change it with PUT ${ctx.options.prefix}/listeners/${listenerId} { "partitions": ${partitions} }, or start with ${recorded}`)
  }
}
