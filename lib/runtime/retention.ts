// Keeps the log tables bounded: old rows go in small batches, with pauses between them.
import { setTimeout as sleep } from 'node:timers/promises'
import { deleteConsumedChanges, deleteOldLogs } from '../db/retention.repo.js'
import type { RuntimeContext } from './context.js'

const BATCH = 5000

/** One pass over both tables; returns the rows removed. */
export async function runRetention (ctx: RuntimeContext, signal: AbortSignal): Promise<{ logs: number, changes: number }> {
  const { logDays, changeLogDays } = ctx.options.retention
  const removed = { logs: 0, changes: 0 }
  const drain = async (fn: () => Promise<number>): Promise<number> => {
    let total = 0
    while (!signal.aborted) {
      const n = await fn()
      total += n
      if (n < BATCH) break
      await sleep(50, undefined, { signal, ref: false }).catch(() => {})
    }
    return total
  }
  if (logDays > 0) removed.logs = await drain(async () => await deleteOldLogs(ctx.db, logDays, BATCH))
  if (changeLogDays > 0) removed.changes = await drain(async () => await deleteConsumedChanges(ctx.db, changeLogDays, BATCH))
  if (removed.logs + removed.changes > 0) ctx.log.info(removed, 'retention removed old rows')
  return removed
}
