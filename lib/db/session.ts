// A dedicated connection for what a pooled one cannot do: hold a session advisory lock (the
// listener's lease) and LISTEN for wake-ups. It lives as long as the runtime.
import { sql, type Kysely } from 'kysely'
import pg from 'pg'

export interface Session {
  /** the backend's pid: where the lease's lock shows in pg_locks (a commit made on the lease checks it) */
  readonly pid: number
  /** try to take the lease of (namespace, key); true when held by this session */
  tryLock: (namespace: string, key: string) => Promise<boolean>
  unlock: (namespace: string, key: string) => Promise<void>
  /** LISTEN to the channels; false when this connection cannot receive notifications */
  listen: (channels: string[], onNotify: (channel: string, payload: string) => void) => Promise<boolean>
  /** called once if the connection is lost */
  onLost: (callback: (err: Error) => void) => void
  close: () => Promise<void>
}

/**
 * A connection of its own, made with the pool's settings but outside it: each stream read holds
 * one for as long as it reads, and an instance holding many partitions would otherwise take every
 * connection of the pool from the work it needs them for (16 partitions on the default 10: nothing
 * was delivered).
 */
export async function openPoolSession (pool: pg.Pool): Promise<Session> {
  const client = new pg.Client((pool as unknown as { options: pg.ClientConfig }).options)
  let lostCallback: ((err: Error) => void) | undefined
  let closed = false
  const lost = (err: Error): void => {
    if (closed) return
    closed = true
    client.end().catch(() => {})
    lostCallback?.(err)
  }
  // a failed connect leaves nothing open: end() settles the socket
  await client.connect().catch(async (err: unknown) => { await client.end().catch(() => {}); throw err })
  client.on('error', lost)
  client.on('end', () => lost(new Error('connection ended')))
  const { rows: [{ pid }] } = await client.query<{ pid: number }>('select pg_backend_pid() as pid')
  return {
    pid,
    tryLock: async (namespace, key) => {
      const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1), hashtext($2)) as ok', [namespace, key])
      return rows[0].ok
    },
    unlock: async (namespace, key) => {
      await client.query('select pg_advisory_unlock(hashtext($1), hashtext($2))', [namespace, key])
    },
    listen: async (channels, onNotify) => {
      client.on('notification', (message) => onNotify(message.channel, message.payload ?? ''))
      // channel names come from the validated schema option; escapeIdentifier quotes them anyway
      // one round trip for all of them (a start waits for it)
      await client.query(channels.map((channel) => `LISTEN ${client.escapeIdentifier(channel)}`).join('; '))
      return true
    },
    onLost: (callback) => { lostCallback = callback },
    close: async () => {
      if (closed) return
      closed = true
      // the lock and the LISTENs die with the connection
      await client.end().catch(() => {})
    }
  }
}

/** For a caller-supplied Kysely: holds one of its connections; no LISTEN (polling wakes the reader). */
export async function openKyselySession (db: Kysely<any>): Promise<Session> {
  let release!: () => void
  const done = new Promise<void>((resolve) => { release = resolve })
  const conn = await new Promise<Kysely<any>>((resolve, reject) => {
    db.connection().execute(async (c) => { resolve(c); await done }).catch(reject)
  })
  const { rows: [{ pid }] } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn)
  return {
    pid,
    tryLock: async (namespace, key) => {
      const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_lock(hashtext(${namespace}), hashtext(${key})) as ok`.execute(conn)
      return rows[0].ok
    },
    unlock: async (namespace, key) => {
      await sql`select pg_advisory_unlock(hashtext(${namespace}), hashtext(${key}))`.execute(conn)
    },
    listen: async () => false,
    onLost: () => {},
    close: async () => { release() }
  }
}
