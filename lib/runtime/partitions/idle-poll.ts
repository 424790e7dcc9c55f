// The idle poll of the partitions an instance holds: NOTIFY wakes a partition's loop when rows
// commit, and the poll is the fallback (SPEC 4). Each loop polling on its own cost one read per
// partition every pollIntervalMs, on a cluster with nothing to do: with 256 partitions, 2 560
// statements a second. Instead the instance asks once per interval, in one statement, which of its
// waiting partitions have rows after their position, and wakes those.
import { setTimeout as sleep } from 'node:timers/promises'
import { partitionsWithRows, type PartitionPosition } from '../../db/partitions.repo.js'
import { recordError, type RuntimeContext } from '../context.js'
import type { ChangeLogReader } from '../read-path/reading.js'
import type { Slice } from '../../db/change-log.repo.js'

/** What the poll needs of a partition's read loop. */
export interface PolledLoop {
  readonly idle: boolean
  readonly reader: ChangeLogReader
  readonly stream: { readonly slice?: Slice }
  wake: () => void
}

/** Until `signal` aborts: every pollIntervalMs, the waiting loops of `loops()` with rows to read are woken. */
export async function pollIdlePartitions (ctx: RuntimeContext, loops: () => PolledLoop[], signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await sleep(ctx.options.runtime.pollIntervalMs, undefined, { signal, ref: false }).catch(() => {})
    if (signal.aborted) return
    try {
      await wakeWhereRowsWait(ctx, loops().filter((l) => l.idle && l.stream.slice !== undefined))
    } catch (err) {
      recordError(ctx, err, { listener_id: ctx.options.runtime.listenerId }, 'polling the partitions failed; retrying')
    }
  }
}

async function wakeWhereRowsWait (ctx: RuntimeContext, waiting: PolledLoop[]): Promise<void> {
  // one count normally; two only for a moment of a re-split
  const byCount = new Map<number, Array<{ loop: PolledLoop, at: PartitionPosition }>>()
  for (const loop of waiting) {
    const { index, count } = loop.stream.slice as Slice
    const group = byCount.get(count) ?? []
    group.push({ loop, at: { partition: index, ...loop.reader.position } })
    byCount.set(count, group)
  }
  for (const [count, group] of byCount) {
    const due = await partitionsWithRows(ctx.db, ctx.schema, count, group.map((g) => g.at))
    for (const { loop, at } of group) if (due.has(at.partition)) loop.wake()
  }
}
