// backfill (issue 27): a backfill job of a user table (1 000 000 rows; --rows N, 100 000 with
// --quick) while the steady load runs (200 events/s, steady.ts), against the steady load alone in
// the same run. The steady observer listens to 'order' only: the READ rows are read and skipped,
// so the figure is what the job's chunks cost the live stream (their transactions, the reads of
// the READ rows), not the delivery of a million READ events.
import type { FastifyInstance } from 'fastify'
import type { BenchContext } from '../app.js'
import { BACKFILL_CHUNK } from '../../lib/runtime/jobs/backfill.js'
import { now } from '../clock.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { steady, type SteadyResult } from './steady.js'

// the route's default (BACKFILL_CHUNK) unless BENCH_BACKFILL_CHUNK says otherwise
const CHUNK = Number(process.env.BENCH_BACKFILL_CHUNK ?? BACKFILL_CHUNK)

export interface BackfillResult {
  rows: number
  chunk: number
  idle: SteadyResult
  during: SteadyResult & { beside?: unknown }
  backfill: { status: string, seconds: number, rows_per_s: number, done: number }
  /** the reader's reads while the job ran, by what they found (observers_change_log_reads_total) */
  reads: Record<string, number>
  /** live p99 during the backfill ÷ idle p99 (target ≤ 2) */
  p99_ratio: number | null
  /** the share of the timed window the job ran in */
  overlap: number
}

export async function backfill (ctx: BenchContext, sink: Sink, rows = ctx.quick ? 100_000 : 1_000_000): Promise<BackfillResult> {
  ctx.progress('backfill: the steady load alone first')
  const idle = await steady(ctx, sink, undefined, 'bench_backfill_idle')
  let job = { status: 'unknown', seconds: 0, rows_per_s: 0, done: 0 }
  let reads: Record<string, number> = {}
  const during = await steady(ctx, sink, {
    prepare: async ({ schema }) => {
      await ctx.pool.query(`update "${schema}".tb_observer set entity_type = 'order'`)
      ctx.progress(`backfill: writing ${rows} rows to backfill`)
      await ctx.pool.query(`create table "${schema}".bench_rows (id bigint primary key, customer text not null, total numeric not null, status text not null, updated_at timestamptz not null)`)
      await ctx.pool.query(`insert into "${schema}".bench_rows select g, 'customer-' || (g % 5000), (g % 997) * 1.5, 'open', now() from generate_series(1, $1::int) g`, [rows])
      await ctx.pool.query(`vacuum analyze "${schema}".bench_rows`)
    },
    run: async ({ app, schema }) => {
      // the job as the route writes it (the bench app has no routes)
      const params = { schema, table: 'bench_rows', key: 'id', key_type: 'bigint', id_column: 'id', entity_type: 'bench_row', filters: [], chunk: CHUNK }
      const { rows: [created] } = await ctx.pool.query<{ id: string }>(`insert into "${schema}".tb_observer_job (kind, params, cursor, total)
        values ('backfill', $1::jsonb, '{"after": null}', $2) returning id::text as id`, [JSON.stringify(params), rows])
      const readsBefore = await readCounts(app)
      app.observers.wakeJobs()
      const began = now()
      for (;;) {
        const { rows: [state] } = await ctx.pool.query<{ status: string, done: number }>(`select status, done::float8 as done from "${schema}".tb_observer_job where id = $1`, [created.id])
        if (['done', 'failed', 'cancelled'].includes(state.status) || now() - began > 600_000) {
          const seconds = (now() - began) / 1000
          job = { status: state.status, seconds: round(seconds, 1), rows_per_s: round(state.done / seconds, 0), done: state.done }
          const readsAfter = await readCounts(app)
          reads = Object.fromEntries(Object.entries(readsAfter).map(([result, n]) => [result, n - (readsBefore[result] ?? 0)]))
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      ctx.progress(`backfill: ${job.done} rows in ${job.seconds} s (${job.rows_per_s} rows/s), ${job.status}`)
      return job
    }
  }, 'bench_backfill')
  const ratio = idle.latency_ms.p99 > 0 ? round(during.latency_ms.p99 / idle.latency_ms.p99, 2) : null
  ctx.progress(`backfill: live p99 ${during.latency_ms.p99} ms during it, ${idle.latency_ms.p99} ms idle (× ${ratio})`)
  ctx.progress(`backfill: reads while it ran ${JSON.stringify(reads)}`)
  return { rows, chunk: CHUNK, idle, during, backfill: job, reads, p99_ratio: ratio, overlap: round(Math.min(1, job.seconds / during.seconds), 2) }
}

async function readCounts (app: FastifyInstance): Promise<Record<string, number>> {
  const metrics = await app.observers.metrics.getMetricsAsJSON()
  const reads = metrics.find((m) => m.name === 'observers_change_log_reads_total')?.values ?? []
  return Object.fromEntries(reads.map((v) => [String(v.labels.result), v.value]))
}
