// Turns the connection option into a schema-bound Kysely and remembers what the plugin owns.
import type { FastifyBaseLogger } from 'fastify'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { ResolvedOptions } from '../options.js'
import type { Database } from './types.js'
import { preparedOn } from './statements.js'

// int8 and numeric stay strings (exact); timestamptz arrives as Date (pg's default)
export interface Connection {
  /** bound to the plugin's schema */
  db: Kysely<Database>
  /** the pg.Pool behind it, when known (LISTEN and the lease need a dedicated client) */
  pool: pg.Pool | undefined
  /** closes only what the plugin opened */
  close: () => Promise<void>
}

export function openConnection (options: ResolvedOptions, log: FastifyBaseLogger): Connection {
  const c = options.connection
  if (c.kind === 'db') {
    return { db: c.db.withSchema(options.schema) as Kysely<Database>, pool: undefined, close: async () => {} }
  }
  const owned = c.kind === 'url'
  // an application_name in the URL wins (pg reads it from there when the config has none)
  const named = /[?&]application_name=/.test(owned ? c.url : '')
  const pool = owned ? new pg.Pool({ connectionString: c.url, max: 10, ...(named ? {} : { application_name: 'fastify-observers' }) }) : c.pool
  // A client whose connection dies (a restart, pg_terminate_backend) emits 'error'; pg-pool only
  // listens on idle clients, and an unheard 'error' would crash the host. The query in flight
  // fails on its own and the runtime retries it; here it is only logged.
  const onClientError = (err: Error): void => { log.warn({ err }, 'a database connection was lost') }
  pool.on('connect', (client) => { client.on('error', onClientError) })
  if (owned) pool.on('error', onClientError)
  const root = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  const db = root.withSchema(options.schema)
  preparedOn(db, pool)
  return {
    db,
    pool,
    close: async () => {
      if (owned) await root.destroy()
    }
  }
}
