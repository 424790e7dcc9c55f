// build(t): a Fastify app with the plugin registered in a fresh schema, torn down after the test.
import Fastify, { type FastifyInstance } from 'fastify'
import pg from 'pg'
import type { Test } from 'tap'
import observerPlugin, { type ObserverPluginOptions } from '../index.js'
import { getDatabaseUrl, uniqueSchema } from './helpers/pg.js'

export const TOKEN = 'test-token-0123456789abcdef'
export const AUTH = { authorization: `Bearer ${TOKEN}` }

export interface Built {
  app: FastifyInstance
  pool: pg.Pool
  schema: string
}

export type BuildOptions = Partial<Omit<ObserverPluginOptions, 'runtime'>> & { runtime?: ObserverPluginOptions['runtime'] }

/** An app on a fresh schema (dropped at teardown). The runtime starts unless `runtime.start` is false. */
export async function build (t: Test, overrides: BuildOptions = {}, shared?: { pool: pg.Pool, schema: string }): Promise<Built> {
  const pool = shared?.pool ?? new pg.Pool({ connectionString: await getDatabaseUrl(), max: 10 })
  const schema = shared?.schema ?? uniqueSchema()
  const app = Fastify({ logger: false })
  t.teardown(async () => {
    await app.close()
    if (shared === undefined) {
      await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => {})
      await pool.end()
    }
  })
  await app.register(observerPlugin, {
    pool,
    schema,
    auth: { tokens: [TOKEN] },
    network: { allowPrivate: true },
    ...overrides,
    runtime: { pollIntervalMs: 20, horizonStallMs: 300, ...overrides.runtime }
  })
  await app.ready()
  return { app, pool, schema }
}

/** A bare Fastify app, a pool and a fresh schema, all torn down after the test; nothing registered yet. */
export async function bareApp (t: Test, max = 4): Promise<Built> {
  const pool = new pg.Pool({ connectionString: await getDatabaseUrl(), max })
  const schema = uniqueSchema()
  const app = Fastify({ logger: false })
  t.teardown(async () => {
    await app.close()
    await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => {})
    await pool.end()
  })
  return { app, pool, schema }
}

/** Waits until `check` returns a value other than undefined/false, polling every 10 ms up to `ms`. */
export async function eventually<T> (check: () => Promise<T | undefined | false> | T | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
