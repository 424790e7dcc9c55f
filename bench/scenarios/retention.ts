// retention (issue 25): the steady load (200 events/s, steady.ts) while retention removes a large
// backlog: 1 000 000 log rows and 200 000 dead letters older than their retention (100 000 and
// 20 000 with --quick), written before the load starts; the pass starts with the timed window.
import type { BenchContext } from '../app.js'
import { now } from '../clock.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { steady, type SteadyResult } from './steady.js'

export interface RetentionResult extends SteadyResult {
  beside?: unknown
  old_log_rows: number
  old_dead_letters: number
}

export async function retention (ctx: BenchContext, sink: Sink): Promise<RetentionResult> {
  const logs = ctx.quick ? 100_000 : 1_000_000
  const deadLetters = ctx.quick ? 20_000 : 200_000
  const result = await steady(ctx, sink, {
    prepare: async ({ schema }) => {
      ctx.progress(`retention: writing ${logs} old log rows and ${deadLetters} old dead letters`)
      await ctx.pool.query(`insert into "${schema}".tb_observer_log (observer_id, event_id, entity_type, entity_id, event_type, action_index, action_type, status, attempt_number, max_attempts, started_at, created_at, request_payload)
        select gen_random_uuid(), gen_random_uuid(), 'order', g::text, 'INSERT', 0, 'webhook', 'failed', 1, 5, now(), now() - interval '20 days', '{"body": "x"}'
          from generate_series(1, $1::int) g`, [logs])
      await ctx.pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, entity_type, entity_id, event_type, action_index, action_type, event, attempts, first_failed_at, last_failed_at)
        select gen_random_uuid(), 'gone', gen_random_uuid(), 'order', g::text, 'INSERT', 0, 'webhook', '{}', 5, now() - interval '40 days', now() - interval '40 days'
          from generate_series(1, $1::int) g`, [deadLetters])
      await ctx.pool.query(`vacuum analyze "${schema}".tb_observer_log`)
      await ctx.pool.query(`vacuum analyze "${schema}".tb_observer_dead_letter`)
    },
    run: async ({ app, schema }) => {
      const began = now()
      const removed = await ctx.code.runRetention({ options: app.observers.options, db: app.observers.db, schema, log: app.log, metrics: ctx.code.createMetrics() }, new AbortController().signal)
      const seconds = round((now() - began) / 1000, 1)
      ctx.progress(`retention: pass of ${seconds} s removed ${JSON.stringify(removed)}`)
      return { removed, seconds }
    }
  }, 'bench_retention')
  return { ...result, old_log_rows: logs, old_dead_letters: deadLetters }
}
