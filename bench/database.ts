// The database the bench runs against: BENCH_DATABASE_URL when set, else an embedded PostgreSQL
// in a temporary folder, with its default settings — fsync stays on, like a real deployment's.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmbeddedPostgres } from '../server/embedded-postgres.js'

export interface BenchDatabase {
  url: string
  kind: 'embedded' | 'BENCH_DATABASE_URL'
  stop: () => Promise<void>
}

export async function openDatabase (progress: (message: string) => void): Promise<BenchDatabase> {
  const given = process.env.BENCH_DATABASE_URL
  if (given !== undefined && given !== '') {
    progress('using BENCH_DATABASE_URL (figures depend on that server\'s settings)')
    return { url: given, kind: 'BENCH_DATABASE_URL', stop: async () => {} }
  }
  const dir = await mkdtemp(join(tmpdir(), 'fastify-observers-bench-'))
  progress(`starting embedded PostgreSQL in ${dir} (default settings, fsync on)`)
  let stopped = false
  try {
    const db = await startEmbeddedPostgres({ dir, ephemeral: true })
    return {
      url: db.url,
      kind: 'embedded',
      stop: async () => {
        if (stopped) return
        stopped = true
        await db.stop().catch(() => {})
        await rm(dir, { recursive: true, force: true })
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}
