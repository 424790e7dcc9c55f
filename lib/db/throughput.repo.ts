// tb_observer_throughput: each instance's per-second delivery counts and lag samples of the last
// minutes (migrations/012-throughput.ts), written a few seconds at a time, read merged.
import type { Kysely } from 'kysely'
import type { SecondSample } from '../runtime/primitives/second-ring.js'
import type { Database } from './types.js'

/** Writes (or rewrites) an instance's samples, and removes every instance's rows older than `keepFrom`. */
export async function saveSamples (db: Kysely<Database>, instanceId: string, samples: readonly SecondSample[], keepFrom: number): Promise<void> {
  if (samples.length > 0) {
    await db.insertInto('tb_observer_throughput')
      .values(samples.map((s) => ({ instance_id: instanceId, second: s.second, delivered: s.delivered, failed: s.failed, lag_events: s.lagEvents, lag_seconds: s.lagSeconds })))
      .onConflict((oc) => oc.columns(['instance_id', 'second']).doUpdateSet((eb) => ({
        delivered: eb.ref('excluded.delivered'),
        failed: eb.ref('excluded.failed'),
        lag_events: eb.ref('excluded.lag_events'),
        lag_seconds: eb.ref('excluded.lag_seconds')
      })))
      .execute()
  }
  await db.deleteFrom('tb_observer_throughput').where('second', '<', keepFrom).execute()
}

/** The other instances' samples from `from` to `to` (Unix seconds), summed per second (lag: the largest). */
export async function readSamples (db: Kysely<Database>, from: number, to: number, exceptInstance: string): Promise<{ samples: SecondSample[], instances: number }> {
  const rows = await db.selectFrom('tb_observer_throughput')
    .select((eb) => [
      'second',
      eb.fn.sum<string>('delivered').as('delivered'),
      eb.fn.sum<string>('failed').as('failed'),
      eb.fn.max('lag_events').as('lag_events'),
      eb.fn.max('lag_seconds').as('lag_seconds')
    ])
    .where('second', '>=', from).where('second', '<=', to).where('instance_id', '<>', exceptInstance)
    .groupBy('second').orderBy('second')
    .execute()
  const distinct = await db.selectFrom('tb_observer_throughput')
    .select((eb) => eb.fn.count<string>('instance_id').distinct().as('n'))
    .where('second', '>=', from).where('instance_id', '<>', exceptInstance)
    .executeTakeFirst()
  return {
    samples: rows.map((r) => ({
      second: Number(r.second),
      delivered: Number(r.delivered),
      failed: Number(r.failed),
      lagEvents: r.lag_events === null ? null : Number(r.lag_events),
      lagSeconds: r.lag_seconds
    })),
    instances: Number(distinct?.n ?? 0)
  }
}
