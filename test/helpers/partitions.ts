// Instances sharing a listener's partitions, as real processes, and what the tests look at.
import type pg from 'pg'
import type { Test } from 'tap'
import { AUTH, build } from '../helper.js'
import { startHttpTarget, type HttpTarget } from './http-target.js'
import { insertChanges, insertObserver } from './rows.js'
import { getDatabaseUrl } from './pg.js'

export const PARTITIONS = 8

/** Runtime options of one instance: a short drain and a lease short enough for the tests, long enough for a loaded machine's pauses */
export const partitioned = (instanceId: string) => ({ partitions: PARTITIONS, instanceId, partitionLeaseMs: 4000, handoffDrainMs: 2000 })

export interface Cluster {
  /** API only: its runtime does not start */
  app: Awaited<ReturnType<typeof build>>['app']
  sink: HttpTarget
  url: string
  pool: Awaited<ReturnType<typeof build>>['pool']
  schema: string
  /** partitions held per live instance, from GET /observers/runtime/instances */
  shares: () => Promise<Record<string, number>>
  /** `n` changes of distinct keys */
  insert: (n: number) => Promise<void>
  /** how many changes insert() wrote */
  inserted: () => number
}

/** A schema with one observer (webhook to a fresh sink), and an API-only app to ask who holds what. */
export async function cluster (t: Test, observer: object = {}): Promise<Cluster> {
  const sink = await startHttpTarget(t)
  const url = await getDatabaseUrl()
  const { app, pool, schema } = await build(t, { runtime: { start: false, partitions: PARTITIONS, partitionLeaseMs: 4000 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }], ...observer })
  let next = 0
  return {
    app,
    sink,
    url,
    pool,
    schema,
    shares: async () => {
      const body = (await app.inject({ url: '/observers/runtime/instances', headers: AUTH })).json()
      return Object.fromEntries(body.data.map((i: { instance_id: string, partitions: unknown[] }) => [i.instance_id, i.partitions.length]))
    },
    insert: async (n) => {
      const first = next
      next += n
      await insertChanges(pool, schema, n, 'order', (i) => ({ n: first + i }))
    },
    inserted: () => next
  }
}

/** Writes changes over 40 keys, each carrying its sequence number: per key, commit order is sequence order. */
export function keyedWriter (pool: pg.Pool, schema: string): { insert: (n: number) => Promise<void>, written: () => number } {
  let next = 0
  return {
    insert: async (n) => {
      const first = next
      next += n
      await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
        select 'order', (g % 40)::text, 'UPDATE', jsonb_build_object('seq', g) from generate_series($1::int, $2::int) g`, [first, next - 1])
    },
    written: () => next
  }
}

export const sorted = (shares: Record<string, number>): number[] => Object.values(shares).sort((a, b) => a - b)
export const eventIds = (sink: HttpTarget): string[] => sink.received.map((r) => r.json.event_id as string)

/** Keys whose deliveries did not arrive in increasing sequence. */
export function outOfOrder (sink: HttpTarget): string[] {
  const last = new Map<string, number>()
  const broken = new Set<string>()
  for (const r of sink.received) {
    const key = r.json.entity_id as string
    const seq = r.json.data.seq as number
    if ((last.get(key) ?? -1) >= seq) broken.add(key)
    last.set(key, seq)
  }
  return [...broken]
}
