// Test database access: DATABASE_URL (set by `npm test`), or an embedded PostgreSQL started for
// this one test process when a file is run on its own with plain `npx tap`.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import tap, { type Test } from 'tap'
import { startEmbeddedPostgres } from '../../server/embedded-postgres.js'
import { guardAgainstLeaks } from './leak-guard.js'

guardAgainstLeaks()

let url: Promise<string> | undefined

export async function getDatabaseUrl (): Promise<string> {
  if (process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '') return process.env.DATABASE_URL
  url ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fastify-observers-file-'))
    const db = await startEmbeddedPostgres({ dir, ephemeral: true, settings: { fsync: 'off' } })
    // the root test's teardown runs after every test of the file
    tap.teardown(async () => {
      await db.stop()
      await rm(dir, { recursive: true, force: true })
    })
    return db.url
  })()
  return await url
}

export function uniqueSchema (prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`
}

/** A pg.Pool on the test database, closed at teardown, and a fresh schema name dropped at teardown. */
export async function testPool (t: Test, max = 10): Promise<{ pool: pg.Pool, schema: string, url: string }> {
  const url = await getDatabaseUrl()
  const pool = new pg.Pool({ connectionString: url, max })
  const schema = uniqueSchema()
  t.teardown(async () => {
    await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => {})
    await pool.end()
  })
  return { pool, schema, url }
}

/** Calls `seen` with the text of every statement the pool's connections run from now on. */
export function watchStatements (pool: pg.Pool, seen: (text: string) => void): void {
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string }
      seen(typeof first === 'string' ? first : first?.text ?? '')
      return query(...args)
    }
  })
}
