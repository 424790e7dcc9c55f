// Renewing the claims on stored deliveries while their work runs (stored/claim-renewal.ts): a claim
// is extended only while its token is still on the row, so a claim that was lost stays lost.
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'

/** A retry row that claims an attempt the read path handed over: found by its key. */
export interface HandedOverClaim { event_id: string, observer_id: string, action_index: number, token: string }

/** The token-held claims of one round: retry rows by pk or (handed over) by key, dead letters by id. */
export interface HeldClaims {
  retries: ReadonlyArray<{ pk: string, token: string }>
  deadLetters: ReadonlyArray<{ id: string, token: string }>
  handedOver?: readonly HandedOverClaim[]
}

/** Extends each claim still held by its token to `claimMs` from now; returns how many were extended. */
export async function renewClaims (db: Kysely<Database>, schema: string, claims: HeldClaims, claimMs: number): Promise<number> {
  const t = (name: string) => sql.id(schema, name)
  const until = sql`now() + make_interval(secs => ${claimMs / 1000})`
  let renewed = 0
  const { retries, deadLetters, handedOver = [] } = claims
  if (retries.length > 0) {
    const { rows } = await sql<{ n: number }>`with renewed as (
        update ${t('tb_observer_retry')} r set claimed_until = ${until}
          from unnest(${retries.map((c) => c.pk)}::bigint[], ${retries.map((c) => c.token)}::uuid[]) as x(pk, token)
         where r.pk_observer_retry = x.pk and r.claimed_by = x.token returning 1)
      select count(*)::int as n from renewed`.execute(db)
    renewed += rows[0].n
  }
  if (deadLetters.length > 0) {
    const { rows } = await sql<{ n: number }>`with renewed as (
        update ${t('tb_observer_dead_letter')} d set retry_claimed_until = ${until}
          from unnest(${deadLetters.map((c) => c.id)}::uuid[], ${deadLetters.map((c) => c.token)}::uuid[]) as x(id, token)
         where d.id = x.id and d.retry_claimed_by = x.token returning 1)
      select count(*)::int as n from renewed`.execute(db)
    renewed += rows[0].n
  }
  if (handedOver.length > 0) {
    const { rows } = await sql<{ n: number }>`with renewed as (
        update ${t('tb_observer_retry')} r set claimed_until = ${until}
          from unnest(${handedOver.map((c) => c.event_id)}::uuid[], ${handedOver.map((c) => c.observer_id)}::uuid[],
                      ${handedOver.map((c) => c.action_index)}::int[], ${handedOver.map((c) => c.token)}::uuid[]) as x(event_id, observer_id, action_index, token)
         where r.event_id = x.event_id and r.observer_id = x.observer_id and r.action_index = x.action_index and r.claimed_by = x.token returning 1)
      select count(*)::int as n from renewed`.execute(db)
    renewed += rows[0].n
  }
  return renewed
}
