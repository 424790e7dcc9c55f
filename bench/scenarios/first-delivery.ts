// first-delivery (issue 15): from `app.observers.start()` to the first delivery on a warm database.
// One webhook observer; each round writes one change while the runtime is stopped, starts it, and
// times the start until the sink received that change, then stops it. The first round of the
// process (its first HTTP connection, code not yet optimised) is reported apart.
import type { BenchContext } from '../app.js'
import { withApp } from '../app.js'
import { now } from '../clock.js'
import { insertChangeLog, insertObservers, waitUntil } from '../data.js'
import type { Sink } from '../sink-client.js'
import { distribution, round, type Distribution } from '../stats.js'

export interface FirstDeliveryResult {
  rounds: number
  /** the process's first start → its delivery */
  first_ms: number
  /** every later start → its delivery */
  warm_ms: Distribution
  /** the later starts one by one, in order */
  warm_each_ms: number[]
}

export async function firstDelivery (ctx: BenchContext, sink: Sink): Promise<FirstDeliveryResult> {
  const rounds = ctx.quick ? 3 : 10
  return await withApp(ctx, 'bench_first_delivery', {}, async ({ app, schema }) => {
    await insertObservers(ctx.pool, schema, { count: 1, url: sink.url, entityTypes: null })
    const offset = (await sink.clockOffset()).offsetMs
    const times: number[] = []
    for (let i = 0; i <= rounds; i++) {
      await sink.reset()
      await insertChangeLog(ctx.pool, schema, 1)
      const started = now()
      await app.observers.start()
      await waitUntil(async () => (await sink.stats()).firstAt !== null, 'the first delivery', 10_000, 1)
      const { firstAt } = await sink.stats()
      times.push(round((firstAt as number) - offset - started, 1))
      await app.observers.stop()
    }
    ctx.progress(`first_delivery: first start ${times[0]} ms, then p50 ${distribution(times.slice(1)).p50} ms`)
    return { rounds, first_ms: times[0], warm_ms: distribution(times.slice(1)), warm_each_ms: times.slice(1) }
  })
}
