// Removing an abandoned listener: its checkpoint (the slowest one holds change-log retention back,
// see retention.repo.ts) and its ahead-ledger. A listener whose lease is held is running: kept.
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'

export type Removal = 'removed' | 'unknown' | 'running'

/** Removes the listener's checkpoint and ledger, unless some instance holds its lease (advisory lock, session-scoped). */
export async function removeCheckpoint (db: Kysely<Database>, schema: string, listenerId: string): Promise<Removal> {
  return await db.transaction().execute(async (trx) => {
    const { rows: [lease] } = await sql<{ held: boolean }>`select exists (
      select 1 from pg_locks l where l.locktype = 'advisory' and l.granted
         and l.classid = hashtext(${schema})::oid and l.objid = hashtext(${listenerId})::oid and l.objsubid = 2) as held`.execute(trx)
    if (lease.held) return 'running'
    const removed = await trx.deleteFrom('observer_checkpoints').where('listener_id', '=', listenerId).executeTakeFirst()
    if (removed.numDeletedRows === 0n) return 'unknown'
    await trx.deleteFrom('tb_change_log_ahead').where('listener_id', '=', listenerId).execute()
    return 'removed'
  })
}
