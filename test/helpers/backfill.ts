// A backfill chunk as the database shows it: one statement (migrations/022) that waits there for
// older transactions before it reads.
import type pg from 'pg'

/** How long `schema`'s chunk statement has been running, in seconds; 0 when none runs. */
export async function chunkRunningSeconds (pool: pg.Pool, schema: string): Promise<number> {
  // the schema names the function: other files' backfills run in parallel
  const { rows } = await pool.query<{ s: number }>(`select extract(epoch from clock_timestamp() - query_start)::float8 as s
    from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()`, [`%"${schema}"."backfill_chunk"%`])
  return rows[0]?.s ?? 0
}
