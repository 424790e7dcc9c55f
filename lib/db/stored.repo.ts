// Committing what stored deliveries owe (stored/run-stored.ts): each claim ends only if it is still
// this worker's (its token still on the row; a release or a handover, only while the session that
// holds the listener's lease still holds it), and only the settlements of the claims that ended
// are written, all in one transaction. A worker whose claim ran out, or whose lease passed to
// another instance, commits nothing for it.
import { sql, type Transaction } from 'kysely'
import type { Kysely } from 'kysely'
import type { Settlement } from '../model.js'
import { endpointsReopened, writeSettlement } from './settlement.repo.js'
import type { Database } from './types.js'

/** How a claim ends, and what must still hold for it to end here. */
export type ClaimEnd =
  /** a retry row: removed */
  | { kind: 'retry', pk: string, token: string }
  /** the retry row that holds a handed-over attempt, by its key: removed */
  | { kind: 'handed_over', event_id: string, observer_id: string, action_index: number, token: string }
  /** a dead letter: removed when delivered, else kept with its claim ended (`failure` counts as one more attempt) */
  | { kind: 'dead_letter', id: string, token: string, delivered: boolean, failure?: { code: string, message: string } }
  /** a parked event released: removed */
  | { kind: 'parked', pk: string }

/** The listener's lease, held by the session whose backend is `pid` (an advisory lock on namespace and key). */
export interface LeaseFence { namespace: string, key: string, pid: number }

const leaseHeld = (fence: LeaseFence | undefined) => fence === undefined
  ? sql`true`
  : sql`exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.granted and l.pid = ${fence.pid}
      and l.classid = hashtext(${fence.namespace})::oid and l.objid = hashtext(${fence.key})::oid and l.objsubid = 2)`

/** Ends the claims that are still this worker's and writes their settlements; true per item whose claim ended here. */
export async function commitStoredWork (db: Kysely<Database>, schema: string, items: ReadonlyArray<{ claim: ClaimEnd, settlement: Settlement }>, fence?: LeaseFence): Promise<boolean[]> {
  return await db.transaction().execute(async (trx) => {
    // first, before any retry row is locked: a circuit closing locks its endpoint, then the retries
    const reopened = await endpointsReopened(trx, items.flatMap((i) => i.settlement.retries))
    const ended = await endClaims(trx, schema, items.map((i) => i.claim), fence)
    const held = items.map((_, i) => ended.has(i))
    const owed = items.filter((_, i) => held[i]).map((i) => i.settlement)
    await writeSettlement(trx, schema, {
      logs: owed.flatMap((s) => s.logs),
      retries: owed.flatMap((s) => s.retries),
      deadLetters: owed.flatMap((s) => s.deadLetters),
      holds: owed.flatMap((s) => s.holds),
      parked: owed.flatMap((s) => s.parked)
    }, reopened)
    return held
  })
}

/** The indexes of the claims that ended, each in a statement that checks it is still held. */
async function endClaims (trx: Transaction<Database>, schema: string, claims: readonly ClaimEnd[], fence: LeaseFence | undefined): Promise<Set<number>> {
  const t = (name: string) => sql.id(schema, name)
  const ended = new Set<number>()
  const indexed = <K extends ClaimEnd['kind']>(kind: K) => claims.flatMap((c, i) => c.kind === kind ? [{ i, c: c as Extract<ClaimEnd, { kind: K }> }] : [])
  const retries = indexed('retry')
  if (retries.length > 0) {
    const { rows } = await sql<{ pk: string }>`delete from ${t('tb_observer_retry')} r
      using unnest(${retries.map((r) => r.c.pk)}::bigint[], ${retries.map((r) => r.c.token)}::uuid[]) as x(pk, token)
      where r.pk_observer_retry = x.pk and r.claimed_by = x.token returning r.pk_observer_retry::text as pk`.execute(trx)
    const pks = new Set(rows.map((r) => r.pk))
    for (const { i, c } of retries) if (pks.has(c.pk)) ended.add(i)
  }
  const handed = indexed('handed_over')
  if (handed.length > 0) {
    const { rows } = await sql<{ token: string }>`delete from ${t('tb_observer_retry')} r
      using unnest(${handed.map((h) => h.c.event_id)}::uuid[], ${handed.map((h) => h.c.observer_id)}::uuid[],
                   ${handed.map((h) => h.c.action_index)}::int[], ${handed.map((h) => h.c.token)}::uuid[]) as x(event_id, observer_id, action_index, token)
      where r.event_id = x.event_id and r.observer_id = x.observer_id and r.action_index = x.action_index and r.claimed_by = x.token
        and ${leaseHeld(fence)}
      returning r.claimed_by::text as token`.execute(trx)
    const tokens = new Set(rows.map((r) => r.token))
    for (const { i, c } of handed) if (tokens.has(c.token)) ended.add(i)
  }
  const parked = indexed('parked')
  if (parked.length > 0) {
    const { rows } = await sql<{ pk: string }>`delete from ${t('tb_observer_parked')}
      where pk_observer_parked = any(${parked.map((p) => p.c.pk)}::bigint[]) and ${leaseHeld(fence)}
      returning pk_observer_parked::text as pk`.execute(trx)
    const pks = new Set(rows.map((r) => r.pk))
    for (const { i, c } of parked) if (pks.has(c.pk)) ended.add(i)
  }
  for (const { i, c } of indexed('dead_letter')) {
    const mine = sql`id = ${c.id} and retry_claimed_by = ${c.token}`
    const { rows } = c.delivered
      ? await sql`delete from ${t('tb_observer_dead_letter')} where ${mine} returning id`.execute(trx)
      : c.failure === undefined
        ? await sql`update ${t('tb_observer_dead_letter')} set retry_claimed_until = null, retry_claimed_by = null where ${mine} returning id`.execute(trx)
        : await sql`update ${t('tb_observer_dead_letter')} set attempts = attempts + 1, error_code = ${c.failure.code}, error_message = ${c.failure.message},
            last_failed_at = now(), retry_claimed_until = null, retry_claimed_by = null where ${mine} returning id`.execute(trx)
    if (rows.length > 0) ended.add(i)
  }
  return ended
}
