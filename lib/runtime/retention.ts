// Maintenance: the periodic observer reload and the retention that keeps the log tables bounded
// (old rows go in small batches, with pauses between them).
import { setTimeout as sleep } from 'node:timers/promises'
import { deleteConsumedChanges, deleteOldLogs } from '../db/retention.repo.js'
import { recordError, type RuntimeContext } from './context.js'

const BATCH = 5000
const RETENTION_EVERY_MS = 10 * 60_000
const FIRST_RETENTION_AFTER_MS = 30_000

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

/** Until `signal` aborts: asks for a reload every `reloadIntervalSecs` (with autoReload) and runs retention. */
export async function maintenanceLoop (ctx: RuntimeContext, requestReload: () => void, signal: AbortSignal): Promise<void> {
  const rt = ctx.options.runtime
  let nextReload = Date.now() + rt.reloadIntervalSecs * 1000
  let nextRetention = Date.now() + FIRST_RETENTION_AFTER_MS
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
