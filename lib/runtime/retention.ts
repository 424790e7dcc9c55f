// Maintenance: the periodic observer check and the retention that keeps every growing table
// bounded: old log rows, consumed change-log rows, old dead letters, retries of deleted observers,
// empty held keys, old request payloads. One instance at a time runs a pass, in short batches with
// pauses between them; nothing still owed (a retry due, a parked event, a key with a blocker) goes.
import { setTimeout as sleep } from 'node:timers/promises'
import {
  cancelRetriesOfDeletedObservers, deleteConsumedChanges, deleteOldDeadLetters, deleteOldLogs, emptyOldRequestPayloads, freeEmptyKeys, whileHoldingRetention
} from '../db/retention.repo.js'
import { recordError, type RuntimeContext } from './context.js'

const BATCH = 5000
const KEY_BATCH = 1000
const RETENTION_EVERY_MS = 10 * 60_000
const FIRST_RETENTION_AFTER_MS = 30_000

export interface RetentionReport {
  logs: number
  changes: number
  deadLetters: number
  /** retries of deleted observers, ended as cancelled log rows */
  retries: number
  keys: number
  /** log rows whose request_payload was emptied */
  payloads: number
}

/** What the metric `observers_retention_removed_total` calls each part. */
const TABLES: Record<keyof RetentionReport, string> = {
  logs: 'tb_observer_log',
  changes: 'tb_entity_change_log',
  deadLetters: 'tb_observer_dead_letter',
  retries: 'tb_observer_retry',
  keys: 'tb_observer_key',
  payloads: 'tb_observer_log.request_payload'
}

/** Where the emptying of payloads got to, per database handle: rows before it are done. */
const payloadsDoneBefore = new WeakMap<object, Date>()

type Ctx = Pick<RuntimeContext, 'options' | 'db' | 'schema' | 'log' | 'metrics'>

/** One pass over every table; null when another instance is running one. */
export async function runRetention (ctx: Ctx, signal: AbortSignal): Promise<RetentionReport | null> {
  return await whileHoldingRetention(ctx.db, ctx.schema, async () => await pass(ctx, signal))
}

async function pass (ctx: Ctx, signal: AbortSignal): Promise<RetentionReport> {
  const { logDays, changeLogDays, deadLetterDays, requestPayloadDays } = ctx.options.retention
  const removed: RetentionReport = { logs: 0, changes: 0, deadLetters: 0, retries: 0, keys: 0, payloads: 0 }
  const drain = async (part: keyof RetentionReport, batch: number, fn: () => Promise<number>): Promise<void> => {
    while (!signal.aborted) {
      const n = await fn()
      removed[part] += n
      ctx.metrics.retentionRemoved.inc({ table: TABLES[part] }, n)
      if (n < batch) break
      await sleep(50, undefined, { signal, ref: false }).catch(() => {})
    }
  }
  const { db, schema } = ctx
  if (logDays > 0) await drain('logs', BATCH, async () => await deleteOldLogs(db, logDays, BATCH))
  if (changeLogDays > 0) await drain('changes', BATCH, async () => await deleteConsumedChanges(db, changeLogDays, BATCH))
  if (deadLetterDays > 0) await drain('deadLetters', BATCH, async () => await deleteOldDeadLetters(db, deadLetterDays, BATCH))
  await drain('retries', BATCH, async () => await cancelRetriesOfDeletedObservers(db, schema, BATCH))
  await drain('keys', KEY_BATCH, async () => await freeEmptyKeys(db, schema, KEY_BATCH))
  if (requestPayloadDays > 0) {
    // a minute short of the cut-off, against clocks that differ between this host and the database
    const cutOff = new Date(Date.now() - requestPayloadDays * 86_400_000 - 60_000)
    await drain('payloads', BATCH, async () => {
      const { emptied, reached } = await emptyOldRequestPayloads(db, schema, requestPayloadDays, payloadsDoneBefore.get(db) ?? null, BATCH)
      if (reached !== null) payloadsDoneBefore.set(db, reached)
      return emptied
    })
    if (!signal.aborted) payloadsDoneBefore.set(db, cutOff)
  }
  if (Object.values(removed).some((n) => n > 0)) ctx.log.info(removed, 'retention removed old rows')
  return removed
}

/** Until `signal` aborts: asks for a check of the observers every `reloadIntervalSecs` (with autoReload) and runs retention. */
export async function maintenanceLoop (ctx: RuntimeContext, requestReload: () => void, signal: AbortSignal): Promise<void> {
  const rt = ctx.options.runtime
  let nextReload = Date.now() + rt.reloadIntervalSecs * 1000
  let nextRetention = Date.now() + FIRST_RETENTION_AFTER_MS
  while (!signal.aborted) {
    await sleep(Math.max(10, Math.min(nextReload, nextRetention) - Date.now()), undefined, { signal, ref: false }).catch(() => {})
    if (signal.aborted) return
    // a version check: only the observers written since the version held are read
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
