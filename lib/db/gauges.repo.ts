// What the health report and the metrics' gauges read from the database, in one statement: a
// scrape or a health check is one round trip of index probes and bounded counts, whatever the
// sizes of the tables (SPEC 9.9).
import type { Kysely } from 'kysely'
import type { Position } from './change-log.repo.js'
import { qualified, statement } from './statements.js'
import type { Database } from './types.js'

export interface Gauges {
  /** the position the lag is measured from: the given one, else the stored checkpoint; null when neither exists */
  position: Position | null
  /** change-log rows after the position: counted up to `LAG_COUNT_BOUND`, estimated from the ids beyond */
  lagEvents: number
  /** created_at of the first row after the position, in commit order */
  oldestUnreadAt: Date | null
  /** these four: exact up to TABLE_COUNT_BOUND, estimates beyond */
  retriesPending: number
  deadLetters: number
  /** entities held by ordered observers, and the events parked behind them */
  blockedKeys: number
  parkedEvents: number
}

/** Beyond this many change-log rows of lag the count is an estimate (ids after the position). */
export const LAG_COUNT_BOUND = 10_000

/**
 * Beyond this many rows, the retry, dead-letter, held-key and parked tables are not counted: their
 * size is the statistics' live-tuple estimate, so that no gauge reads more than this many rows.
 */
export const TABLE_COUNT_BOUND = 10_000

const COUNTED = { retries: 'tb_observer_retry', dead_letters: 'tb_observer_dead_letter', blocked_keys: 'tb_observer_key', parked: 'tb_observer_parked' } as const
type Counted = keyof typeof COUNTED

type Row = { txid: string | null, id: string | null, counted: number, head: string | null, oldest: Date | null } & Record<Counted | `${Counted}_planned`, string>

// a table the statistics say is big is not read: the CASE leaves its count unexecuted. Below the
// bound it is counted exactly, up to one row past it; past it (statistics behind a burst of
// inserts) the planner's row count of the table stands in
function bounded (schema: string, table: string): string {
  const relation = `'${qualified(schema, table).replace(/'/g, "''")}'::regclass`
  return `(select case when pg_stat_get_live_tuples(${relation}) >= $5 then pg_stat_get_live_tuples(${relation})
            else (select count(*) from (select from ${qualified(schema, table)} limit $5 + 1) n) end)::text`
}

const planned = (schema: string, table: string): string =>
  `(select greatest(reltuples, 0)::bigint from pg_class where oid = '${qualified(schema, table).replace(/'/g, "''")}'::regclass)::text`

const read = statement((schema) => {
  const log = qualified(schema, 'tb_entity_change_log')
  const after = '(l.txid, l.pk_entity_change_log) > (p.txid, p.id)'
  const counts = Object.entries(COUNTED).map(([name, table]) => `${bounded(schema, table)} as ${name}, ${planned(schema, table)} as ${name}_planned`)
  return `
  with known as (
    select coalesce($1::xid8, c.last_txid) as txid, coalesce($2::bigint, c.last_change_log_id) as id
      from (select) one
      -- a partitioned listener ($6) is as far as its slowest partition
      left join lateral (select last_txid, last_change_log_id from ${qualified(schema, 'observer_checkpoints')}
                          where listener_id = $3 or ($6 and listener_id like $3 || '#%')
                          order by last_txid, last_change_log_id limit 1) c on true),
  p as (select coalesce(txid, '0'::xid8) as txid, coalesce(id, 0) as id from known)
  select (select txid::text from known) as txid, (select id::text from known) as id,
         -- ordered as the index is, so that no plan counts by scanning the whole change log
         (select count(*) from (select from ${log} l where ${after} order by l.txid, l.pk_entity_change_log limit $4) n)::int as counted,
         (select max(pk_entity_change_log) from ${log})::text as head,
         (select l.created_at from ${log} l where ${after} order by l.txid, l.pk_entity_change_log limit 1) as oldest,
         ${counts.join(',\n         ')}
    from p`
})

/** A bounded count: exact up to TABLE_COUNT_BOUND, an estimate beyond. */
function size (row: Row, name: Counted): number {
  const n = Number(row[name])
  return n > TABLE_COUNT_BOUND ? Math.max(n, Number(row[`${name}_planned`])) : n
}

/** The gauges of `listenerId`, measured from `position` (the reader's, when this instance reads) or its stored checkpoint. */
export async function readGauges (db: Kysely<Database>, schema: string, listenerId: string, position?: Position, partitioned = false): Promise<Gauges> {
  const { rows: [row] } = await read<Row>(db, schema, [position?.txid ?? null, position?.id ?? null, listenerId, LAG_COUNT_BOUND, TABLE_COUNT_BOUND, partitioned])
  const from = row.txid === null || row.id === null ? null : { txid: row.txid, id: row.id }
  let lagEvents = row.counted
  if (lagEvents >= LAG_COUNT_BOUND && row.head !== null) lagEvents = Math.max(lagEvents, Number(BigInt(row.head) - BigInt(from?.id ?? '0')))
  return {
    position: from,
    lagEvents,
    oldestUnreadAt: row.oldest,
    retriesPending: size(row, 'retries'),
    deadLetters: size(row, 'dead_letters'),
    blockedKeys: size(row, 'blocked_keys'),
    parkedEvents: size(row, 'parked')
  }
}
