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
import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Position } from './change-log.repo.js'
import { partitionOf, partitionStreamId } from './partitions.repo.js'
import type { JobStatus } from '../runtime/jobs/transitions.js'
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

/** How a value enters a statement: a parameter of its own, or (the chunk's, ../../migrations/022) an element of one array */
type Bind = (value: string) => RawBuilder<unknown>
const parameter: Bind = (value) => sql`${value}`

function where (target: BackfillTarget, after: string | null, bind = parameter): RawBuilder<unknown> {
  const parts: Array<RawBuilder<unknown>> = [sql`true`]
  if (after !== null) parts.push(sql`${sql.id(target.key)} > ${bind(after)}::${sql.raw(target.key_type)}`)
  for (const f of target.filters) {
    // the type is the column's own, read from the catalog; the value is a parameter
    const type = sql.raw(f.type)
    if (f.op === 'in') parts.push(sql`${sql.id(f.column)} = any(array[${sql.join((f.value as Array<string | number | boolean>).map((v) => bind(text(v))))}]::${type}[])`)
    else parts.push(sql`${sql.id(f.column)} ${sql.raw(f.op)} ${bind(text(f.value as string | number | boolean))}::${type}`)
  }
  return sql.join(parts, sql` and `)
}

/** Rows the backfill would read now. */
export async function countBackfill (db: Kysely<Database>, target: BackfillTarget): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::float8 as n from ${sql.id(target.schema, target.table)} where ${where(target, null)}`.execute(db)
  return rows[0].n
}

/**
 * One chunk and the job's progress, committed by one statement outside a transaction block (the
 * function of ../../migrations/022-backfill-chunk.ts): it takes its transaction id, waits (up to
 * `ms`) until no transaction with a lower id runs, writes the next `limit` rows after the cursor's
 * key as READ rows and moves the job's cursor, under the job's claim. From the id to the commit no
 * round trip to this process holds the reader back. 'busy' when an older transaction stayed open
 * or a row of the chunk is being written (nothing written), 'lost' when the claim passed to
 * another instance (nothing written).
 */
export async function writeReadChunk (db: Kysely<Database>, changeLogSchema: string, target: BackfillTarget, job: { pk: string, token: string, leaseMs: number }, cursor: { after: string | null, through: Position | null }, limit: number, ms: number): Promise<WrittenChunk | 'busy' | 'lost'> {
  const args: string[] = []
  const bind: Bind = (value) => {
    args.push(value)
    return sql.raw(`$1[${args.length}]`)
  }
  const chunk = sql`
    with chunk as (
      select t.${sql.id(target.key)} as k, to_jsonb(t) as data from ${sql.id(target.schema, target.table)} t
       where ${where(target, cursor.after, bind)}
       order by t.${sql.id(target.key)} limit ${bind(String(limit))}::int
         for share nowait
    ), written as (
      insert into ${sql.id(changeLogSchema, 'tb_entity_change_log')} (object_type, object_id, modification_type, object_data)
      select ${bind(target.entity_type)}, data ->> ${bind(target.id_column)}, 'READ', data from chunk order by k
      returning pk_entity_change_log
    )
    select (select max(k)::text from chunk) as last, (select count(*)::int from written) as count,
           (select max(pk_entity_change_log)::text from written) as head`.compile(db)
  try {
    const { rows: [{ r }] } = await sql<{ r: { status: string, last: string | null, count: number, txid: string, head: string | null } }>`
      select ${sql.id(changeLogSchema, 'backfill_chunk')}(${chunk.sql}, ${args}::text[], ${ms}, ${job.pk}, ${job.token}, ${job.leaseMs},
                                                          ${cursor.after}, ${cursor.through === null ? null : JSON.stringify(cursor.through)}::jsonb) as r`.execute(db)
    if (r.status === 'busy') return 'busy'
    return { status: r.status as JobStatus, last: r.last ?? cursor.after, count: r.count, through: r.head === null ? cursor.through : { txid: r.txid, id: r.head } }
  } catch (err) {
    const code = (err as { code?: string }).code
    // a row of the chunk is being written: try again later
    if (code === '55P03') return 'busy'
    if (code === 'OBJ01') return 'lost'
    throw err
  }
}

export interface WrittenChunk {
  /** the job's status after the chunk (an operator may have moved it) */
  status: JobStatus
  /** the last key written (the cursor's, when none was), and how many rows */
  last: string | null
  count: number
  /** the chunk's last change-log row in commit order (the cursor's, when it wrote none) */
  through: Position | null
}

/** The checkpoint ids of a listener's streams: the whole stream's, or each partition's. */
export function listenerStreams (listenerId: string, partitions: number): string[] {
  return partitions > 1 ? Array.from({ length: partitions }, (_, n) => partitionStreamId(listenerId, n)) : [listenerId]
}

/**
 * Whether the reader of each of `streams` (of a listener split in `partitions`) has read every
 * change-log row up to `through`: a stream behind it with an unread row of its own at or before it
 * says no. True when nobody reads the listener (no checkpoint): there is no live delivery to keep
 * ahead of.
 */
export async function readerPassed (db: Kysely<Database>, schema: string, streams: readonly string[], partitions: number, through: Position): Promise<boolean> {
  const own = partitions > 1 ? sql.raw(`${partitionOf(partitions, 'l.object_type', 'l.object_id')} = split_part(c.listener_id, '#', 2)::int`) : sql.raw('true')
  const { rows: [{ passed }] } = await sql<{ passed: boolean }>`
    select not exists (
      select from ${sql.id(schema, 'observer_checkpoints')} c
       where c.listener_id = any(${[...streams]}::text[])
         and (c.last_txid, c.last_change_log_id) < (${through.txid}::xid8, ${through.id}::bigint)
         and exists (select from ${sql.id(schema, 'tb_entity_change_log')} l
                      where (l.txid, l.pk_entity_change_log) > (c.last_txid, c.last_change_log_id)
                        and (l.txid, l.pk_entity_change_log) <= (${through.txid}::xid8, ${through.id}::bigint)
                        and ${own})) as passed`.execute(db)
  return passed
}
