// tb_observer_endpoint_window: each endpoint's attempts and transient failures per time bucket,
// summed over every instance (SPEC 9.3: one window per endpoint). Instances add their counts
// about once a second; a count is kept only in the circuit's current generation (a close bumps
// it), so counts taken before a close never reach the window after it.
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'

export interface WindowCount { endpoint: string, generation: number, attempts: number, failures: number }

const bucketNow = (bucketMs: number) => sql<string>`floor(extract(epoch from now()) * 1000 / ${bucketMs})::bigint`

/** Adds this instance's counts to the current bucket (those of an older generation are dropped) and forgets buckets past the window. */
export async function addWindowCounts (db: Kysely<Database>, counts: readonly WindowCount[], bucketMs: number, buckets: number): Promise<void> {
  if (counts.length === 0) return
  await db.insertInto('tb_observer_endpoint_window')
    .columns(['endpoint', 'generation', 'bucket', 'attempts', 'failures'])
    .expression((eb) => eb.selectFrom(sql<WindowCount>`json_to_recordset(${JSON.stringify(counts)}::json)`
      .as(sql`x(endpoint text, generation bigint, attempts int, failures int)`))
      .leftJoin('tb_observer_endpoint as e', 'e.endpoint', 'x.endpoint')
      .select(['x.endpoint', 'x.generation', bucketNow(bucketMs).as('bucket'), 'x.attempts', 'x.failures'])
      .where(sql<boolean>`coalesce(e.generation, 0) = x.generation`))
    .onConflict((oc) => oc.columns(['endpoint', 'generation', 'bucket']).doUpdateSet({
      attempts: sql`tb_observer_endpoint_window.attempts + excluded.attempts`,
      failures: sql`tb_observer_endpoint_window.failures + excluded.failures`
    }))
    .execute()
  await db.deleteFrom('tb_observer_endpoint_window').where('bucket', '<=', sql<string>`${bucketNow(bucketMs)} - ${buckets}`).execute()
}

/** The window's totals per endpoint (of `endpoints`, or every one), in its circuit's current generation. */
export async function windowTotals (db: Kysely<Database>, bucketMs: number, buckets: number, endpoints?: readonly string[]): Promise<WindowCount[]> {
  if (endpoints !== undefined && endpoints.length === 0) return []
  let query = db.selectFrom('tb_observer_endpoint_window as w')
    .leftJoin('tb_observer_endpoint as e', 'e.endpoint', 'w.endpoint')
    .select(['w.endpoint', 'w.generation', sql<string>`sum(w.attempts)::text`.as('attempts'), sql<string>`sum(w.failures)::text`.as('failures')])
    .where(sql<boolean>`w.generation = coalesce(e.generation, 0)`)
    .where('w.bucket', '>', sql<string>`${bucketNow(bucketMs)} - ${buckets}`)
    .groupBy(['w.endpoint', 'w.generation'])
  if (endpoints !== undefined) query = query.where('w.endpoint', 'in', [...endpoints])
  const rows = await query.execute()
  return rows.map((r) => ({ endpoint: r.endpoint, generation: Number(r.generation), attempts: Number(r.attempts), failures: Number(r.failures) }))
}
