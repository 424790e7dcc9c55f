// tb_observer_retry: the durable retry schedule. Any instance may run a due retry; a claim
// (FOR UPDATE SKIP LOCKED, then `claimed_until`) keeps two instances from running the same one.
import { sql, type Kysely, type Selectable } from 'kysely'
import type { Database, RetryTable } from './types.js'

export type RetryRow = Selectable<RetryTable>

/** Claims up to `limit` due retries for `claimMs`, under the claim's own `token`. */
export async function claimDueRetries (db: Kysely<Database>, limit: number, claimMs: number, token: string): Promise<RetryRow[]> {
  return await db.updateTable('tb_observer_retry')
    .set({ claimed_until: sql`now() + make_interval(secs => ${claimMs / 1000})`, claimed_by: token })
    .where('pk_observer_retry', 'in', (eb) => eb.selectFrom('tb_observer_retry')
      .select('pk_observer_retry')
      .where('due_at', '<=', sql<Date>`now()`)
      .where((w) => w.or([w('claimed_until', 'is', null), w('claimed_until', '<', sql<Date>`now()`)]))
      .orderBy('due_at')
      .limit(limit)
      .forUpdate().skipLocked())
    .returningAll()
    .execute()
}

/**
 * When the next retry falls due (null when none is scheduled): the worker sleeps until then.
 * Claimed ones are someone's already (the worker looks again within a second anyway).
 */
export async function nextRetryDue (db: Kysely<Database>): Promise<Date | null> {
  const row = await db.selectFrom('tb_observer_retry').select('due_at')
    .where((w) => w.or([w('claimed_until', 'is', null), w('claimed_until', '<', sql<Date>`now()`)]))
    .orderBy('due_at').limit(1).executeTakeFirst()
  return row === undefined ? null : new Date(row.due_at)
}

export async function deleteRetries (db: Kysely<Database>, ids: string[]): Promise<void> {
  if (ids.length === 0) return
  await db.deleteFrom('tb_observer_retry').where('pk_observer_retry', 'in', ids).execute()
}
