// Removal of old rows in small batches (short transactions, no long locks).
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'
import { slowestPosition } from './checkpoint.repo.js'

/** Deletes up to `limit` execution-log rows older than `days`; returns how many went. */
export async function deleteOldLogs (db: Kysely<Database>, days: number, limit: number): Promise<number> {
  const result = await db.deleteFrom('tb_observer_log')
    .where('pk_observer_log', 'in', (eb) => eb.selectFrom('tb_observer_log').select('pk_observer_log')
      .where('created_at', '<', sql<Date>`now() - make_interval(days => ${days})`)
      .limit(limit))
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** Deletes up to `limit` change-log rows older than `days` that every listener has read. */
export async function deleteConsumedChanges (db: Kysely<Database>, days: number, limit: number): Promise<number> {
  const slowest = await slowestPosition(db)
  if (slowest === undefined) return 0
  const result = await db.deleteFrom('tb_entity_change_log')
    .where('pk_entity_change_log', 'in', (eb) => eb.selectFrom('tb_entity_change_log').select('pk_entity_change_log')
      .where('created_at', '<', sql<Date>`now() - make_interval(days => ${days})`)
      .where(sql`(txid, pk_entity_change_log)`, '<=', sql`(${slowest.txid}::xid8, ${slowest.id}::bigint)`)
      .limit(limit))
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}
