// What the health report and the metrics' gauges read from the database, in one statement: a
// scrape or a health check is one round trip of index probes and bounded counts.
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
  retriesPending: number
  deadLetters: number
  /** entities held by ordered observers, and the events parked behind them */
  blockedKeys: number
  parkedEvents: number
}

/** Beyond this many rows of lag the count is an estimate (ids after the position): counting a million rows took ~0.2 s. */
export const LAG_COUNT_BOUND = 100_000

interface Row { txid: string | null, id: string | null, counted: number, head: string | null, oldest: Date | null, retries: number, dead_letters: number, blocked_keys: number, parked: number }

const read = statement((schema) => {
  const log = qualified(schema, 'tb_entity_change_log')
  const after = '(l.txid, l.pk_entity_change_log) > (p.txid, p.id)'
  return `
  with known as (
    select coalesce($1::xid8, c.last_txid) as txid, coalesce($2::bigint, c.last_change_log_id) as id
      from (select) one
      left join ${qualified(schema, 'observer_checkpoints')} c on c.listener_id = $3),
  p as (select coalesce(txid, '0'::xid8) as txid, coalesce(id, 0) as id from known)
  select (select txid::text from known) as txid, (select id::text from known) as id,
         -- ordered as the index is, so that no plan counts by scanning the whole change log
         (select count(*) from (select from ${log} l where ${after} order by l.txid, l.pk_entity_change_log limit $4) n)::int as counted,
         (select max(pk_entity_change_log) from ${log})::text as head,
         (select l.created_at from ${log} l where ${after} order by l.txid, l.pk_entity_change_log limit 1) as oldest,
         (select count(*) from ${qualified(schema, 'tb_observer_retry')})::int as retries,
         (select count(*) from ${qualified(schema, 'tb_observer_dead_letter')})::int as dead_letters,
         (select count(*) from ${qualified(schema, 'tb_observer_key')})::int as blocked_keys,
         (select count(*) from ${qualified(schema, 'tb_observer_parked')})::int as parked
    from p`
})

/** The gauges of `listenerId`, measured from `position` (the reader's, when this instance reads) or its stored checkpoint. */
export async function readGauges (db: Kysely<Database>, schema: string, listenerId: string, position?: Position): Promise<Gauges> {
  const { rows: [row] } = await read<Row>(db, schema, [position?.txid ?? null, position?.id ?? null, listenerId, LAG_COUNT_BOUND])
  const from = row.txid === null || row.id === null ? null : { txid: row.txid, id: row.id }
  let lagEvents = row.counted
  if (lagEvents >= LAG_COUNT_BOUND && row.head !== null) lagEvents = Math.max(lagEvents, Number(BigInt(row.head) - BigInt(from?.id ?? '0')))
  return { position: from, lagEvents, oldestUnreadAt: row.oldest, retriesPending: row.retries, deadLetters: row.dead_letters, blockedKeys: row.blocked_keys, parkedEvents: row.parked }
}
