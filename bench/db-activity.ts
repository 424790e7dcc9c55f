// What the database did during a measured window, from pg_stat_database: transactions and rows.
// Backends flush these counters at most once a second, so the last second may be missing.
import type pg from 'pg'

export interface DbActivity {
  transactions: number
  rows_returned: number
  rows_fetched: number
  rows_inserted: number
  rows_updated: number
  rows_deleted: number
}

async function read (pool: pg.Pool): Promise<DbActivity> {
  const { rows: [r] } = await pool.query<Record<string, string>>(`select xact_commit + xact_rollback as transactions,
      tup_returned as rows_returned, tup_fetched as rows_fetched, tup_inserted as rows_inserted,
      tup_updated as rows_updated, tup_deleted as rows_deleted
    from pg_stat_database where datname = current_database()`)
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)])) as unknown as DbActivity
}

export async function measureDbActivity (pool: pg.Pool): Promise<{ stop: () => Promise<DbActivity> }> {
  const start = await read(pool)
  return {
    stop: async () => {
      const end = await read(pool)
      return Object.fromEntries(Object.entries(end).map(([k, v]) => [k, v - start[k as keyof DbActivity]])) as unknown as DbActivity
    }
  }
}

/** WAL bytes the server wrote over a window (every client's), from pg_current_wal_lsn(). */
export async function measureWal (pool: pg.Pool): Promise<{ stop: () => Promise<number> }> {
  const { rows: [start] } = await pool.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')
  return {
    stop: async () => {
      const { rows: [end] } = await pool.query<{ bytes: number }>('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 as bytes', [start.lsn])
      return end.bytes
    }
  }
}
