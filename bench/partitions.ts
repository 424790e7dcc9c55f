// The bench's view of a partitioned listener (SPEC 9.2): where each partition's rows end, where its
// checkpoint is, and who holds it. Read from the tables, so that polling them costs the database
// little: the heads are computed once, before the runtime starts.
import { Kysely, PostgresDialect } from 'kysely'
import type pg from 'pg'
import type { RuntimeCode } from './code.js'
import type { Position } from './data.js'
import type { Database } from '../lib/db/types.js'

const q = (schema: string, table: string): string => `"${schema}".${table}`

/**
 * The partitions' index, built before a measured window: a listener that runs partitioned has it
 * from its first start (CREATE INDEX CONCURRENTLY), and its build is not a cost per delivery.
 */
export async function buildPartitionIndex (pool: pg.Pool, code: RuntimeCode, schema: string, count: number): Promise<void> {
  // never destroyed: that would end the bench's pool, which this Kysely only borrows
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  await code.ensurePartitionIndex(db, schema, count)
}

/** Each partition's last change-log row in commit order (a partition with no row is absent). */
export async function partitionHeads (pool: pg.Pool, code: RuntimeCode, schema: string, count: number): Promise<Map<number, Position>> {
  // ordered by the xid8 and bigint columns: the text output columns would sort '749' after '1899'
  const { rows } = await pool.query<Position & { partition: number }>(`select distinct on (x.partition) x.partition, x.t::text as txid, x.i::text as id
    from (select ${code.partitionOf(count, 'c.object_type', 'c.object_id')} as partition, c.txid as t, c.pk_entity_change_log as i
            from ${q(schema, 'tb_entity_change_log')} c) x
    order by x.partition, x.t desc, x.i desc`)
  return new Map(rows.map((r) => [r.partition, { txid: r.txid, id: r.id }]))
}

/** Each partition's checkpoint (`<listener>#<n>`). */
export async function partitionCheckpoints (pool: pg.Pool, code: RuntimeCode, schema: string, listenerId: string, count: number): Promise<Map<number, Position>> {
  const ids = Array.from({ length: count }, (_, p) => code.partitionStreamId(listenerId, p))
  const { rows } = await pool.query<Position & { listener_id: string }>(`select listener_id, last_txid::text as txid, last_change_log_id::text as id
    from ${q(schema, 'observer_checkpoints')} where listener_id = any($1::text[])`, [ids])
  const byId = new Map(rows.map((r) => [r.listener_id, { txid: r.txid, id: r.id }]))
  const result = new Map<number, Position>()
  ids.forEach((id, p) => { const c = byId.get(id); if (c !== undefined) result.set(p, c) })
  return result
}

const notBefore = (a: Position, b: Position): boolean => BigInt(a.txid) > BigInt(b.txid) || (a.txid === b.txid && BigInt(a.id) >= BigInt(b.id))

/** Every partition's checkpoint at (or past) its last row: everything read, delivered and logged. */
export function atHeads (checkpoints: Map<number, Position>, heads: Map<number, Position>): boolean {
  for (const [p, head] of heads) {
    const checkpoint = checkpoints.get(p)
    if (checkpoint === undefined || !notBefore(checkpoint, head)) return false
  }
  return true
}

export interface PartitionHolder { partition: number, holder: string | null, term: number }

/** Who holds each partition now (tb_observer_partition: set when a lease is taken, cleared at a release). */
export async function partitionHolders (pool: pg.Pool, schema: string, listenerId: string): Promise<PartitionHolder[]> {
  const { rows } = await pool.query<PartitionHolder>(`select partition, holder, term::int as term
    from ${q(schema, 'tb_observer_partition')} where listener_id = $1 order by partition`, [listenerId])
  return rows
}

/** Partitions held per instance of `live` (every one listed, 0 when it holds none), and how many are held by none of them. */
export function shares (holders: PartitionHolder[], live: readonly string[]): { held: Record<string, number>, unheld: number } {
  const held: Record<string, number> = Object.fromEntries(live.map((id) => [id, 0]))
  let unheld = 0
  for (const { holder } of holders) {
    if (holder !== null && holder in held) held[holder]++
    else unheld++
  }
  return { held, unheld }
}

/** Every partition held by one of `live`, none holding more than its share, ceil(count / live). */
export function fair (holders: PartitionHolder[], live: readonly string[]): boolean {
  const { held, unheld } = shares(holders, live)
  const share = Math.ceil(holders.length / live.length)
  return holders.length > 0 && unheld === 0 && Object.values(held).every((n) => n <= share)
}
