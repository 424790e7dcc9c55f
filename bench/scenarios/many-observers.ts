// many-observers (issue 25): the cost of observers that grow in number. For each size, observers
// are inserted in bulk (one statement), then loaded by one full reload; measured: that reload, a
// second one (what POST /observers/runtime/reload costs once loaded), the heap each observer holds,
// peak RSS, the time from the API's answer creating one more observer to the sink receiving the
// first matching change, and the CPU this process spends on one update of one observer.
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type pg from 'pg'
import type { BenchContext } from '../app.js'
import { withApp } from '../app.js'
import { now } from '../clock.js'
import { waitUntil } from '../data.js'
import { afterFullGc, sampleMemory } from '../rss.js'
import type { Sink } from '../sink-client.js'
import { distribution, round, type Distribution } from '../stats.js'

export interface SizeResult {
  observers: number
  bulk_insert_ms: number
  full_reload_ms: number
  /** a full reload again, everything already loaded (rows whose version is unchanged are reused) */
  full_reload_again_ms: number
  /** live heap after a full GC, per observer loaded */
  heap_per_observer_bytes: number
  rss_after_load_mb: number
  /** the peak over the whole size: loads, creates, updates */
  rss_peak_mb: number
  /** the API's answer to POST /observers → the sink received the change written right after */
  create_to_delivered_ms: Distribution
  create_to_delivered_each_ms: number[]
  /** CPU of this process over a window with one UPDATE of one observer (bench pool), less an idle window's */
  update_cpu_ms: Distribution
  /** from the UPDATE's commit to its index patched (polled every ms) */
  update_applied_ms: Distribution
  /** rows the incremental loads read for those updates (two per update when each is loaded once) */
  update_rows_read: number
  full_reload_cpu_ms: number
}

export interface ManyObserversResult { sizes: SizeResult[] }

const WINDOW_MS = 250

async function cpuOver (ms: number, work: () => Promise<void>): Promise<number> {
  const start = process.cpuUsage()
  await work()
  await sleep(ms)
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

async function counter (app: FastifyInstance, name: string, kind: string): Promise<number> {
  const metric = app.observers.metrics.getSingleMetric(name)
  const values = metric === undefined ? [] : (await metric.get()).values
  return values.filter((v) => v.labels.kind === kind).reduce((sum, v) => sum + v.value, 0)
}

/** `count` observers of one entity type, one tenant each, conditions of 50 shapes: a multi-tenant platform's. */
async function insertBulk (pool: pg.Pool, schema: string, count: number, url: string): Promise<void> {
  await pool.query(`insert into "${schema}".tb_observer (name, entity_type, tenant_id, condition_expression, actions)
    select 'bulk-' || g, 'order', 'tenant-' || g, 'total > ' || (g % 50), jsonb_build_array(jsonb_build_object('type', 'webhook', 'url', $2::text))
      from generate_series(1, $1::int) g`, [count, url])
  await pool.query(`vacuum analyze "${schema}".tb_observer`)
}

async function measureSize (ctx: BenchContext, sink: Sink, count: number): Promise<SizeResult> {
  const tries = 3
  // the window difference carries the idle loops' noise (a few ms either way): its median needs many
  const updates = ctx.quick ? 5 : 25
  const result = await withApp(ctx, `bench_observers_${count}`, { routes: true }, async ({ app, schema }) => {
    const began = now()
    await insertBulk(ctx.pool, schema, count, sink.url)
    const bulkMs = now() - began
    afterFullGc(sampleMemory().stop())
    const heapBefore = process.memoryUsage().heapUsed
    const memory = sampleMemory(20)
    let t = now()
    const cpuStart = process.cpuUsage()
    const loaded = await app.observers.reload()
    const fullMs = now() - t
    const fullCpu = process.cpuUsage(cpuStart)
    if (loaded !== count) throw new Error(`loaded ${loaded} observers, expected ${count}`)
    const live = afterFullGc(sampleMemory().stop())
    const heapLoaded = process.memoryUsage().heapUsed
    t = now()
    await app.observers.reload()
    const againMs = now() - t
    await app.observers.start()
    const offset = (await sink.clockOffset()).offsetMs

    const created: number[] = []
    for (let i = 0; i < tries; i++) {
      await sink.reset()
      const res = await app.inject({ method: 'POST', url: '/observers', payload: { name: `probe-${i}`, entity_type: 'order', actions: [{ type: 'webhook', url: sink.url }] } })
      const answered = now()
      if (res.statusCode !== 201) throw new Error(`POST /observers answered ${res.statusCode}: ${res.body}`)
      await ctx.pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data) values ('order', $1, 'INSERT', '{"total": 1}')`, [`probe-${i}`])
      await waitUntil(async () => (await sink.stats()).firstAt !== null, 'the probe delivered', 30_000, 1)
      created.push(round(((await sink.stats()).firstAt as number) - offset - answered, 1))
      await app.inject({ method: 'DELETE', url: `/observers/${res.json().id}` })
    }

    // a probe's DELETE may still be loading: wait until the loads stop before counting rows
    let settled = -1
    for (;;) {
      const n = await counter(app, 'observers_reloads_total', 'incremental')
      if (n === settled) break
      settled = n
      await sleep(300)
    }
    const wall: number[] = []
    const cpu: number[] = []
    const rowsBefore = await counter(app, 'observers_reload_rows_total', 'incremental')
    for (let i = 0; i < updates; i++) {
      const update = async (): Promise<void> => {
        await ctx.pool.query(`update "${schema}".tb_observer set condition_expression = $1 where name = $2`, [`total > ${i}`, `bulk-${1 + (i * 7919) % count}`])
      }
      // the CPU of a window with one update, less that of the same window idle: what the update cost
      const idle = await cpuOver(WINDOW_MS, async () => {})
      const seen = await counter(app, 'observers_reloads_total', 'incremental')
      const busy = await cpuOver(WINDOW_MS, update)
      if (await counter(app, 'observers_reloads_total', 'incremental') <= seen) throw new Error('the update was not applied within the window')
      cpu.push(round(busy - idle, 2))
      // and in wall time, polling for the load to end
      const polled = await counter(app, 'observers_reloads_total', 'incremental')
      t = now()
      await update()
      await waitUntil(async () => await counter(app, 'observers_reloads_total', 'incremental') > polled, 'the update applied', 10_000, 1)
      wall.push(round(now() - t, 2))
    }
    const peak = memory.stop()
    return {
      observers: count,
      bulk_insert_ms: round(bulkMs, 0),
      full_reload_ms: round(fullMs, 0),
      full_reload_again_ms: round(againMs, 0),
      heap_per_observer_bytes: Math.round((heapLoaded - heapBefore) / count),
      full_reload_cpu_ms: round((fullCpu.user + fullCpu.system) / 1000, 0),
      rss_after_load_mb: live.rss_end_after_gc_mb,
      rss_peak_mb: peak.rss_peak_mb,
      create_to_delivered_ms: distribution(created),
      create_to_delivered_each_ms: created,
      update_cpu_ms: distribution(cpu),
      update_applied_ms: distribution(wall),
      update_rows_read: await counter(app, 'observers_reload_rows_total', 'incremental') - rowsBefore
    }
  })
  const { runtime_log: _log, ...size } = result
  ctx.progress(`many_observers ${count}: full reload ${size.full_reload_ms} ms, create→delivered ${size.create_to_delivered_each_ms.join('/')} ms, update CPU p50 ${size.update_cpu_ms.p50} ms, peak RSS ${size.rss_peak_mb} MB, ${size.heap_per_observer_bytes} B/observer`)
  return size
}

export async function manyObservers (ctx: BenchContext, sink: Sink): Promise<ManyObserversResult> {
  // BENCH_OBSERVER_SIZES=100000 measures chosen sizes only
  const chosen = process.env.BENCH_OBSERVER_SIZES?.split(',').map(Number).filter((n) => n > 0)
  const sizes = chosen !== undefined && chosen.length > 0 ? chosen : ctx.quick ? [1000, 10_000] : [1000, 10_000, 50_000, 100_000]
  const out: SizeResult[] = []
  for (const count of sizes) out.push(await measureSize(ctx, sink, count))
  return { sizes: out }
}
