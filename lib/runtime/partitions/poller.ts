// Wake-ups of the partitions an instance holds, from one look at all of them. A change-log NOTIFY
// does not say which partitions its transaction wrote to, so each partition's loop reading on
// every NOTIFY made a commit of one row cost a read in each partition (two statements each when
// empty): 8 partitions at 200 commits a second, ~3 000 reads. And each loop polling on its own
// cost one read per partition every pollIntervalMs with nothing to do. Instead the instance asks,
// in one statement, which of its partitions have rows after their reader's position (one index
// probe each), and wakes those: once per NOTIFY of a transaction, and once per poll interval.
import { setTimeout as sleep } from 'node:timers/promises'
import { partitionsWithRows, type PartitionPosition } from '../../db/partitions.repo.js'
import type { Slice } from '../../db/change-log.repo.js'
import { recordError, type RuntimeContext } from '../context.js'
import type { ChangeLogReader } from '../read-path/reading.js'

/** What the poller needs of a partition's read loop. */
export interface PolledLoop {
  readonly reading: boolean
  /** it holds the lease, read everything there was and waits for changes */
  readonly idle: boolean
  readonly reader: ChangeLogReader
  readonly stream: { readonly slice?: Slice }
  wake: () => void
}

/** NOTIFY payloads remembered, so that one commit's NOTIFY, heard by each partition's session, is looked at once */
const SEEN_MAX = 4096

export class PartitionPoller {
  private readonly seen = new Set<string>()
  /** a look is asked for */
  private wanted = false
  private looking = false

  constructor (private readonly ctx: RuntimeContext, private readonly loops: () => PolledLoop[]) {}

  /** A change-log NOTIFY named a transaction some partition has not read past (its payload). */
  committed (payload: string): void {
    if (this.seen.has(payload)) return
    if (this.seen.size >= SEEN_MAX) this.seen.clear()
    this.seen.add(payload)
    this.look()
  }

  /** Until `signal` aborts: every pollIntervalMs, a look (for rows no NOTIFY announced). */
  async run (signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.ctx.options.runtime.pollIntervalMs, undefined, { signal, ref: false }).catch(() => {})
      if (!signal.aborted) this.look()
    }
  }

  /**
   * Wakes the waiting loops with rows after their position, soon. A loop reading now is not
   * looked at: when it ends its read, it asks for a look of its own if a NOTIFY came meanwhile.
   */
  look (): void {
    this.wanted = true
    if (this.looking) return
    this.looking = true
    this.lookWhileWanted().catch((err) => { recordError(this.ctx, err, {}, 'looking for rows in the partitions failed') })
  }

  /** A look asked for while one runs is made after it: that one's statement may have begun before the commit. */
  private async lookWhileWanted (): Promise<void> {
    while (this.wanted) {
      this.wanted = false
      try {
        await this.wakeWhereRowsWait(this.loops().filter((l) => l.idle && l.stream.slice !== undefined))
      } catch (err) {
        recordError(this.ctx, err, { listener_id: this.ctx.options.runtime.listenerId }, 'looking for rows in the partitions failed; the next poll looks again')
      }
    }
    this.looking = false
  }

  private async wakeWhereRowsWait (loops: PolledLoop[]): Promise<void> {
    // one count normally; two only for a moment of a re-split
    const byCount = new Map<number, Array<{ loop: PolledLoop, at: PartitionPosition }>>()
    for (const loop of loops) {
      const { index, count } = loop.stream.slice as Slice
      const group = byCount.get(count) ?? []
      group.push({ loop, at: { partition: index, ...loop.reader.position } })
      byCount.set(count, group)
    }
    for (const [count, group] of byCount) {
      const due = await partitionsWithRows(this.ctx.db, this.ctx.schema, count, group.map((g) => g.at))
      for (const { loop, at } of group) if (due.has(at.partition)) loop.wake()
    }
  }
}
