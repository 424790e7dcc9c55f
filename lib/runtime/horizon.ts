// Reports an open transaction that holds the commit-order horizon back (health's `horizon_held`).
import type { Kysely } from 'kysely'
import { transactionHolding } from '../db/change-log.repo.js'
import type { Database } from '../db/types.js'
import type { HorizonState } from './reader.js'

export async function horizonHolder (db: Kysely<Database>, horizon: HorizonState | null, stallMs: number, now = Date.now()): Promise<{ since: string, pid: number | null, transaction_started_at: string | null } | null> {
  if (horizon === null || !horizon.blocking || now - horizon.since < stallMs) return null
  const holder = await transactionHolding(db, horizon.xmin)
  return {
    since: new Date(horizon.since).toISOString(),
    pid: holder?.pid ?? null,
    transaction_started_at: holder?.xact_start === null || holder?.xact_start === undefined ? null : new Date(holder.xact_start).toISOString()
  }
}
