// tb_entity_change_log as the reader sees it: commit-order-safe batches (see lib/runtime/read-path/reading.ts).
import { sql, type Kysely } from 'kysely'
import type { ChangeLogRow } from '../model.js'
import type { Database } from './types.js'
import { partitionOf } from './partitions.repo.js'
import { qualified, statement } from './statements.js'

/** A position in commit order: the writing transaction's id, then the row's id. */
export interface Position { txid: string, id: string }

export const START: Position = Object.freeze({ txid: '0', id: '0' })

const columns = (schema: string): string => `c.pk_entity_change_log, c.id, c.object_type, c.object_id,
  c.modification_type, c.object_data, c.object_data_before, c.updated_fields, c.tenant_id, c.user_id, c.trace_id,
  c.traceparent, c.tracestate, c.extra_metadata, c.created_at, c.txid::text as txid,
  (select version::text from ${qualified(schema, 'tb_observer_version')}) as observers_version`

type ReadRow = ChangeLogRow & { observers_version: string, xmin?: string, barrier?: string | null, above?: boolean | null }

/** One partition of the stream: rows whose key hashes to `index` out of `count` (partitions.repo.ts). */
export interface Slice {
  index: number
  count: number
  /** the listener whose re-split barrier the partition's reads stop at (resplit.repo.ts) */
  listener?: string
}

/** The three reads, over the whole stream (no slice) or one partition's rows (its index is the last parameter). */
function reads (count: number | undefined) {
  // After the position, in commit order; in one partition, the comparison starts with the partition
  // (and the order with it), so PostgreSQL reads the partition's index as one range, not the
  // commit-order index filtered.
  const part = (alias: string): string => partitionOf(count ?? 1, `${alias}.object_type`, `${alias}.object_id`)
  const afterPosition = (alias: string, param: number): string => count === undefined
    ? `(${alias}.txid, ${alias}.pk_entity_change_log) > ($1::xid8, $2::bigint)`
    : `(${part(alias)}, ${alias}.txid, ${alias}.pk_entity_change_log) > ($${param}::int, $1::xid8, $2::bigint) and ${part(alias)} = $${param}::int`
  const by = (alias: string): string => count === undefined
    ? `${alias}.txid, ${alias}.pk_entity_change_log`
    : `${part(alias)}, ${alias}.txid, ${alias}.pk_entity_change_log`
  // A partition reads its listener's re-split barrier in the statement that reads its rows: a read
  // whose snapshot does not see the request yet sees that transaction still open, so it reads
  // only rows below it anyway (resplit.repo.ts).
  const barrier = (schema: string, param: number): string => count === undefined
    ? ''
    : `, (select l.barrier_txid::text from ${qualified(schema, 'tb_observer_listener')} l where l.listener_id = $${param}) as barrier`
  return {
    // The horizon and the observers' version are read in the statement that reads the rows, so they
    // match the snapshot that saw them.
    belowHorizon: statement((schema) => `
      select ${columns(schema)}${barrier(schema, 5)},
             pg_snapshot_xmin(pg_current_snapshot())::text as xmin
        from ${qualified(schema, 'tb_entity_change_log')} c
       where ${afterPosition('c', 4)}
         and c.txid < pg_snapshot_xmin(pg_current_snapshot())
       order by ${by('c')}
       limit $3`),
    // The same read that answers one row of nulls carrying the horizon when there is nothing to read,
    // and whether committed rows wait above it (the slow path has something to read). Used when a
    // read is likely to find nothing (the one before did, or the read above just has): asking for
    // the horizon alone in a second statement raced with commits (the horizon could pass a row the
    // first statement had not seen, and the reader, taking it for a horizon the row was below,
    // slept instead of reading it). Not the fast path itself: PostgreSQL plans this one afresh for
    // each read.
    belowHorizonOrHorizon: statement((schema) => `
      select ${columns(schema)}${barrier(schema, 5)},
             h.xmin::text as xmin,
             case when c.pk_entity_change_log is null then (
               select true from ${qualified(schema, 'tb_entity_change_log')} a
                where ${afterPosition('a', 4)}
                order by ${by('a')} limit 1) end as above
        from (select pg_snapshot_xmin(pg_current_snapshot()) as xmin) h
        left join lateral (
          select * from ${qualified(schema, 'tb_entity_change_log')} r
           where ${afterPosition('r', 4)}
             and r.txid < h.xmin
           order by ${by('r')}
           limit $3) c on true
       order by c.txid, c.pk_entity_change_log`),
    aboveHorizon: statement((schema) => `
      select ${columns(schema)}${barrier(schema, 6)}
        from ${qualified(schema, 'tb_entity_change_log')} c
       where ${afterPosition('c', 5)}
         and c.txid >= pg_snapshot_xmin(pg_current_snapshot())
         and not exists (select 1 from ${qualified(schema, 'tb_change_log_ahead')} a
                          where a.listener_id = $3 and a.change_log_id = c.pk_entity_change_log)
       order by ${by('c')}
       limit $4`)
  }
}

const whole = reads(undefined)
const byCount = new Map<number, ReturnType<typeof reads>>()

function readsOf (slice: Slice | undefined): { statements: ReturnType<typeof reads>, extra: unknown[] } {
  if (slice === undefined) return { statements: whole, extra: [] }
  let statements = byCount.get(slice.count)
  if (statements === undefined) byCount.set(slice.count, statements = reads(slice.count))
  return { statements, extra: [slice.index, slice.listener ?? ''] }
}

export interface Horizon {
  /** every transaction below this id has ended; rows below it can no longer appear */
  xmin: string
}

/**
 * Fast path: committed rows after `after` in (txid, id) order whose transaction is below the
 * horizon. No transaction below the horizon can still commit, so no row can later appear
 * before the last row returned. One index range scan, no writes. `likelyEmpty` (the last read
 * found nothing) asks in one statement for the rows or, when there are none, the horizon.
 */
export async function readBelowHorizon (db: Kysely<Database>, schema: string, after: Position, limit: number, slice?: Slice, likelyEmpty = false): Promise<Horizon & Barrier & { rows: ChangeLogRow[], observersVersion?: string, above?: boolean }> {
  const { statements, extra } = readsOf(slice)
  const values = [after.txid, after.id, limit, ...extra]
  let rows = likelyEmpty ? [] : (await statements.belowHorizon<ReadRow>(db, schema, values)).rows
  if (rows.length === 0) {
    rows = (await statements.belowHorizonOrHorizon<ReadRow>(db, schema, values)).rows
    if (rows[0].pk_entity_change_log === null) return { rows: [], xmin: rows[0].xmin as string, above: rows[0].above === true, ...barrierOf(rows[0]) }
  }
  return { rows, xmin: rows[0].xmin as string, observersVersion: rows[0].observers_version, ...barrierOf(rows[0]) }
}

export interface Barrier {
  /** a re-split is under way: the partition reads the rows of transactions below this one, and stops at (barrier, 0) */
  barrier?: string
}

const barrierOf = (row: ReadRow | undefined): Barrier => row?.barrier == null ? {} : { barrier: row.barrier }

/**
 * Slow path, used only while the horizon is stuck: committed rows at or above the horizon that
 * this listener has not delivered yet (the caller records them in tb_change_log_ahead).
 */
export async function readAboveHorizon (db: Kysely<Database>, schema: string, listenerId: string, after: Position, limit: number, slice?: Slice): Promise<Barrier & { rows: ChangeLogRow[], observersVersion?: string }> {
  const { statements, extra } = readsOf(slice)
  const { rows } = await statements.aboveHorizon<ReadRow>(db, schema, [after.txid, after.id, listenerId, limit, ...extra])
  return { rows, observersVersion: rows[0]?.observers_version, ...barrierOf(rows[0]) }
}

/** The observers' version (bumped by every change to tb_observer). */
export async function readObserversVersion (db: Kysely<Database>): Promise<string> {
  const row = await db.selectFrom('tb_observer_version').select(sql<string>`version::text`.as('v')).executeTakeFirstOrThrow()
  return row.v
}

/** Rows of this listener's ahead-ledger inside a fast-path batch (already delivered: skip them). */
export async function aheadIdsUpTo (db: Kysely<Database>, listenerId: string, upTo: Position): Promise<Set<string>> {
  const rows = await db.selectFrom('tb_change_log_ahead').select('change_log_id')
    .where('listener_id', '=', listenerId)
    .where(sql`(txid, change_log_id)`, '<=', sql`(${upTo.txid}::xid8, ${upTo.id}::bigint)`)
    .execute()
  return new Set(rows.map((r) => String(r.change_log_id)))
}

/** The furthest row in this listener's ahead-ledger, or undefined when the ledger is empty. */
export async function lastAheadPosition (db: Kysely<Database>, listenerId: string): Promise<Position | undefined> {
  const row = await db.selectFrom('tb_change_log_ahead')
    .select([sql<string>`txid::text`.as('txid'), 'change_log_id'])
    .where('listener_id', '=', listenerId)
    .orderBy('txid', 'desc').orderBy('change_log_id', 'desc')
    .limit(1).executeTakeFirst()
  return row === undefined ? undefined : { txid: row.txid, id: String(row.change_log_id) }
}

/** Position of a change-log row, for moving a checkpoint to "after this id". */
export async function positionOf (db: Kysely<Database>, id: string): Promise<Position | undefined> {
  const row = await db.selectFrom('tb_entity_change_log').select(sql<string>`txid::text`.as('txid'))
    .where('pk_entity_change_log', '=', id).executeTakeFirst()
  return row === undefined ? undefined : { txid: row.txid, id }
}

/** The backend whose open transaction is the horizon (pg_stat_activity), if visible to us. */
export async function transactionHolding (db: Kysely<Database>, xmin: string): Promise<{ pid: number, xact_start: Date | null } | undefined> {
  // backend_xid is the 32-bit form of the xid8 horizon
  const xid32 = (BigInt(xmin) & 0xffffffffn).toString()
  const { rows } = await sql<{ pid: number, xact_start: Date | null }>`
    select pid, xact_start from pg_stat_activity where backend_xid::text = ${xid32} limit 1`.execute(db)
  return rows[0]
}
