// A backfill's reads and writes: an application table's rows as READ change-log rows, in primary-key
// order, one chunk per transaction. Table, columns and types come from the catalog; a filter's
// values are always bound as parameters (cast to their column's type from the catalog).
//
// Why a READ and a live change of one key end on the row's latest state in the reader's order,
// (txid, id): the chunk's transaction takes its transaction id X first, then waits until no
// transaction with a lower id is still running, and only then reads the rows (a fresh snapshot:
// READ COMMITTED). A live change with a lower id than X has therefore committed before the read, so
// the READ already carries its effect and comes after it; a live change with a higher id comes
// after the READ in the reader's order, and its after image is newer than what the READ carries.
// Either way the last event of a key is its latest state. The wait is bounded: a transaction left
// open makes the step wait and try again (the job's cursor does not move).
// An ordered observer gets a key's events in change-log id order (the order the row's changes were
// made, lib/runtime/README.md): so the chunk also share-locks the rows it reads. A write in flight
// on one of them has its change-log row already, and the READ must come after it carrying its
// effect: the lock is not granted until that write ends, so NOWAIT turns the chunk into a retry
// (a chunk never waits while it holds locks: no live writer can deadlock with it). A write that
// comes later waits for the chunk's short transaction, and its change-log row follows the READ.
import { setTimeout as sleep } from 'node:timers/promises'
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely'
import type { Position } from './change-log.repo.js'
import { partitionOf, partitionStreamId } from './partitions.repo.js'
import type { Database } from './types.js'

export const FILTER_OPS = ['=', '!=', '<', '<=', '>', '>=', 'in'] as const
export type FilterOp = typeof FILTER_OPS[number]

export interface BackfillFilter { column: string, op: FilterOp, value: string | number | boolean | Array<string | number | boolean>, type: string }

export interface BackfillTarget {
  schema: string
  table: string
  /** the single primary-key column: the chunks' order and the job's cursor */
  key: string
  key_type: string
  /** the column whose value is the entity id (the capture's id_column) */
  id_column: string
  entity_type: string
  filters: BackfillFilter[]
}

/** Columns of a table and their types as PostgreSQL spells them, with the primary key's; undefined when there is no such table. */
export async function describeTable (db: Kysely<Database>, schema: string, table: string): Promise<{ columns: Map<string, string>, primaryKey: string[] } | undefined> {
  const { rows } = await sql<{ name: string, type: string, pk: boolean }>`
    select a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
           coalesce(a.attnum = any(i.indkey), false) as pk
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      left join pg_index i on i.indrelid = c.oid and i.indisprimary
     where n.nspname = ${schema} and c.relname = ${table} and c.relkind in ('r', 'p')
     order by a.attnum`.execute(db)
  if (rows.length === 0) return undefined
  return { columns: new Map(rows.map((r) => [r.name, r.type])), primaryKey: rows.filter((r) => r.pk).map((r) => r.name) }
}

const text = (v: string | number | boolean): string => String(v)

function where (target: BackfillTarget, after: string | null): RawBuilder<unknown> {
  const parts: Array<RawBuilder<unknown>> = [sql`true`]
  if (after !== null) parts.push(sql`${sql.id(target.key)} > ${after}::${sql.raw(target.key_type)}`)
  for (const f of target.filters) {
    // the type is the column's own, read from the catalog; the value is a parameter
    const type = sql.raw(f.type)
    if (f.op === 'in') parts.push(sql`${sql.id(f.column)} = any(${(f.value as Array<string | number | boolean>).map(text)}::${type}[])`)
    else parts.push(sql`${sql.id(f.column)} ${sql.raw(f.op)} ${text(f.value as string | number | boolean)}::${type}`)
  }
  return sql.join(parts, sql` and `)
}

/** Rows the backfill would read now. */
export async function countBackfill (db: Kysely<Database>, target: BackfillTarget): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::float8 as n from ${sql.id(target.schema, target.table)} where ${where(target, null)}`.execute(db)
  return rows[0].n
}

/** Waits (outside a transaction) until every transaction running now has ended; false after `ms`. */
export async function waitForRunningTransactions (db: Kysely<Database>, ms: number): Promise<boolean> {
  const { rows: [{ next }] } = await sql<{ next: string }>`select pg_snapshot_xmax(pg_current_snapshot())::text as next`.execute(db)
  const until = Date.now() + ms
  for (;;) {
    const { rows: [{ ended }] } = await sql<{ ended: boolean }>`select pg_snapshot_xmin(pg_current_snapshot()) >= ${next}::xid8 as ended`.execute(db)
    if (ended) return true
    if (Date.now() > until) return false
    await sleep(5)
  }
}

/**
 * One chunk, in the caller's transaction: takes its transaction id, then writes the next `limit`
 * rows after `after` as READ rows once no transaction with a lower id runs. The last key written
 * and the count, or 'busy' when an older transaction stayed open longer than `ms`. From the id on,
 * the reader cannot read past this transaction: the savepoint comes before it, and the check for
 * older transactions is part of the chunk's statement, which runs alone in that window.
 */
export async function writeReadChunk (trx: Transaction<Database>, changeLogSchema: string, target: BackfillTarget, after: string | null, limit: number, ms: number): Promise<WrittenChunk | 'busy'> {
  await sql`savepoint backfill_chunk`.execute(trx)
  const { rows: [{ xid }] } = await sql<{ xid: string }>`select pg_current_xact_id()::text as xid`.execute(trx)
  const until = Date.now() + ms
  try {
    for (;;) {
      const written = await readChunk(trx, changeLogSchema, target, after, limit, xid)
      if (written !== 'older') return { ...written, through: written.head === null ? null : { txid: xid, id: written.head } }
      if (Date.now() > until) return 'busy'
      await sleep(2)
    }
  } catch (err) {
    // a row of the chunk is being written: try again later
    if ((err as { code?: string }).code !== '55P03') throw err
    await sql`rollback to savepoint backfill_chunk`.execute(trx)
    return 'busy'
  }
}

export interface WrittenChunk {
  /** the last key written, and how many rows */
  last: string | null
  count: number
  /** the chunk's last change-log row in commit order (null when it wrote none) */
  through: Position | null
}

async function readChunk (trx: Transaction<Database>, changeLogSchema: string, target: BackfillTarget, after: string | null, limit: number, xid: string): Promise<{ last: string | null, count: number, head: string | null } | 'older'> {
  // the statement's snapshot is taken after the id: its horizon at or past the id means every
  // transaction with a lower one has ended, and this snapshot sees what they wrote
  const { rows: [result] } = await sql<{ oldest: boolean, last: string | null, count: number, head: string | null }>`
    with ready as (
      select pg_snapshot_xmin(pg_current_snapshot()) >= ${xid}::xid8 as oldest
    ), chunk as (
      select t.${sql.id(target.key)} as k, to_jsonb(t) as data from ${sql.id(target.schema, target.table)} t
       where (select oldest from ready) and ${where(target, after)}
       order by t.${sql.id(target.key)} limit ${limit}
         for share nowait
    ), written as (
      insert into ${sql.id(changeLogSchema, 'tb_entity_change_log')} (object_type, object_id, modification_type, object_data)
      select ${target.entity_type}, data ->> ${target.id_column}, 'READ', data from chunk order by k
      returning pk_entity_change_log
    )
    select (select oldest from ready) as oldest, (select max(k)::text from chunk) as last,
           (select count(*)::int from written) as count, (select max(pk_entity_change_log)::text from written) as head`.execute(trx)
  return result.oldest ? result : 'older'
}

/**
 * Whether the listener's reader (each of its partitions' streams) has read every change-log row up
 * to `through`: a stream behind it with an unread row of its own at or before it says no. True
 * when nobody reads the listener (no checkpoint): there is no live delivery to keep ahead of.
 */
export async function readerPassed (db: Kysely<Database>, schema: string, listenerId: string, partitions: number, through: Position): Promise<boolean> {
  const streams = partitions > 1 ? Array.from({ length: partitions }, (_, n) => partitionStreamId(listenerId, n)) : [listenerId]
  const own = partitions > 1 ? sql.raw(`${partitionOf(partitions, 'l.object_type', 'l.object_id')} = split_part(c.listener_id, '#', 2)::int`) : sql.raw('true')
  const { rows: [{ passed }] } = await sql<{ passed: boolean }>`
    select not exists (
      select from ${sql.id(schema, 'observer_checkpoints')} c
       where c.listener_id = any(${streams}::text[])
         and (c.last_txid, c.last_change_log_id) < (${through.txid}::xid8, ${through.id}::bigint)
         and exists (select from ${sql.id(schema, 'tb_entity_change_log')} l
                      where (l.txid, l.pk_entity_change_log) > (c.last_txid, c.last_change_log_id)
                        and (l.txid, l.pk_entity_change_log) <= (${through.txid}::xid8, ${through.id}::bigint)
                        and ${own})) as passed`.execute(db)
  return passed
}
