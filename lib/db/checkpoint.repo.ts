// observer_checkpoints: each listener's position in the change log (commit order).
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'
import { qualified, statement } from './statements.js'
import type { Position } from './change-log.repo.js'

export interface Checkpoint {
  listener_id: string
  position: Position
  event_count: number
  error_count: number
  last_error: string | null
  updated_at: Date
}

function select (db: Kysely<Database>) {
  return db.selectFrom('observer_checkpoints').select([
    'listener_id', sql<string>`last_txid::text`.as('last_txid'), 'last_change_log_id',
    'event_count', 'error_count', 'last_error', 'updated_at'
  ])
}

type Row = Awaited<ReturnType<ReturnType<typeof select>['executeTakeFirstOrThrow']>>

function toCheckpoint (row: Row): Checkpoint {
  return {
    listener_id: row.listener_id,
    position: { txid: row.last_txid, id: String(row.last_change_log_id) },
    event_count: Number(row.event_count),
    error_count: Number(row.error_count),
    last_error: row.last_error,
    updated_at: row.updated_at
  }
}

export async function getCheckpoint (db: Kysely<Database>, listenerId: string): Promise<Checkpoint | undefined> {
  const row = await select(db).where('listener_id', '=', listenerId).executeTakeFirst()
  return row === undefined ? undefined : toCheckpoint(row)
}

/** The listener's checkpoint, created at the start of the change log when it has none. */
export async function ensureCheckpoint (db: Kysely<Database>, listenerId: string): Promise<Checkpoint> {
  await db.insertInto('observer_checkpoints').values({ listener_id: listenerId })
    .onConflict((oc) => oc.column('listener_id').doNothing()).execute()
  return toCheckpoint(await select(db).where('listener_id', '=', listenerId).executeTakeFirstOrThrow())
}

/**
 * Moves the checkpoint from `from` to `to` only if nobody else moved it meanwhile (another
 * instance that took the lease over, or an operator's replay), and, given `leasePid`, only while
 * that backend holds the listener's lease: false means "discard this batch".
 */
export async function advanceCheckpoint (db: Kysely<Database>, schema: string, listenerId: string, from: Position, to: Position, processed: number, leasePid?: number): Promise<boolean> {
  const result = await advance(db, schema, advanceValues(listenerId, from, to, processed, leasePid))
  return result.numAffectedRows === 1n
}

/**
 * The conditional move, as SQL text taking advanceValues() as $1-$6 and the lease holder's pid as
 * `$<pidParam>` (also used inside a larger statement). A holder paused past its lease, whose session
 * was ended, finds the checkpoint where it left it: the lock, not the position, fences it.
 */
export function advanceSql (schema: string, pidParam = 7): string {
  return `update ${qualified(schema, 'observer_checkpoints')}
     set last_txid = $1::xid8, last_change_log_id = $2::bigint, event_count = event_count + $3::bigint, updated_at = now()
   where listener_id = $4 and last_txid = $5::xid8 and last_change_log_id = $6::bigint
     and ($${pidParam}::int is null or exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.granted
          and l.pid = $${pidParam}::int and l.classid = hashtext('${schema}')::oid and l.objid = hashtext($4)::oid and l.objsubid = 2))`
}

export function advanceValues (listenerId: string, from: Position, to: Position, processed: number, leasePid?: number): unknown[] {
  return [to.txid, to.id, processed, listenerId, from.txid, from.id, leasePid ?? null]
}

const advance = statement(advanceSql)

/** The channel on which a moved checkpoint is announced (payload: the listener id). */
export const checkpointChannel = (schema: string): string => `${schema}_checkpoints`

/** Operator replay: put the listener at `position` (rows after it are read again); the reader is told. */
export async function moveCheckpoint (db: Kysely<Database>, schema: string, listenerId: string, position: Position): Promise<Checkpoint> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_notify(${checkpointChannel(schema)}, ${listenerId})`.execute(trx)
    await trx.insertInto('observer_checkpoints')
      .values({ listener_id: listenerId, last_txid: sql`${position.txid}::xid8`, last_change_log_id: position.id })
      .onConflict((oc) => oc.column('listener_id').doUpdateSet({
        last_txid: sql`${position.txid}::xid8`, last_change_log_id: position.id, updated_at: sql`now()`
      }))
      .execute()
    // the ahead-ledger is relative to the old position: replayed rows must not be skipped
    await trx.deleteFrom('tb_change_log_ahead').where('listener_id', '=', listenerId).execute()
  })
  return toCheckpoint(await select(db).where('listener_id', '=', listenerId).executeTakeFirstOrThrow())
}

export async function recordCheckpointError (db: Kysely<Database>, listenerId: string, message: string): Promise<void> {
  await db.updateTable('observer_checkpoints')
    .set({ last_error: message.slice(0, 2000), error_count: sql`error_count + 1`, updated_at: sql`now()` })
    .where('listener_id', '=', listenerId)
    .execute()
}

/** The lowest position every listener has passed: change-log rows at or before it are consumed. */
export async function slowestPosition (db: Kysely<Database>): Promise<Position | undefined> {
  const row = await select(db).orderBy('last_txid').orderBy('last_change_log_id').limit(1).executeTakeFirst()
  return row === undefined ? undefined : toCheckpoint(row).position
}
