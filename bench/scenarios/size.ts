// size (issue 25, SPEC 9.9): what the admin API costs on big tables.
// - GET /observers among 100 000 observers at page_size 100: every page by cursor (a walk from the
//   first to the 1 000th), then the first and the 1 000th page again, by cursor and by number;
// - health and a metrics scrape with 1 000 000 dead letters and 100 000 held keys: as they answer
//   when called often (the gauges are shared for 2 s) and the first call after each period (the
//   gauges statement itself).
// Round trips through app.inject, one at a time; the runtime is stopped (nothing else runs).
import { setTimeout as sleep } from 'node:timers/promises'
import type { BenchApp, BenchContext } from '../app.js'
import { withApp } from '../app.js'
import { now } from '../clock.js'
import { insertObservers } from '../data.js'
import type { Sink } from '../sink-client.js'
import { distribution, round, type Distribution } from '../stats.js'

export interface SizeResult {
  observers: number
  dead_letters: number
  held_keys: number
  insert_seconds: number
  list: {
    /** every page of the walk by next_cursor, first to last */
    walk_by_cursor_ms: Distribution
    first_page_ms: Distribution
    page_1000_by_cursor_ms: Distribution
    page_1000_by_number_ms: Distribution
    total_count: number
    total_estimated: boolean
  }
  health: { often_ms: Distribution, first_of_period_ms: Distribution, dead_letters_reported: number, blocked_keys_reported: number }
  /** for comparison, in the same run: the exact count(*) of the four tables health ran before */
  exact_counts_ms: Distribution
  scrape: { often_ms: Distribution, first_of_period_ms: Distribution }
}

/** The round trip of `url` through inject, `times` times after `warmup` unmeasured ones. */
async function timed (bench: BenchApp, url: string, times: number, warmup = 5): Promise<Distribution> {
  const took: number[] = []
  for (let i = 0; i < warmup + times; i++) {
    const started = now()
    const res = await bench.app.inject({ method: 'GET', url })
    if (i >= warmup) took.push(now() - started)
    if (res.statusCode !== 200 && res.statusCode !== 503) throw new Error(`GET ${url} answered ${res.statusCode}: ${res.body.slice(0, 200)}`)
  }
  return distribution(took)
}

/** The first call after each period of the shared gauges: what the gauges statement costs. */
async function firstOfPeriod (bench: BenchApp, url: string, rounds: number): Promise<Distribution> {
  const took: number[] = []
  for (let i = 0; i < rounds; i++) {
    await sleep(2100)
    const started = now()
    await bench.app.inject({ method: 'GET', url })
    took.push(now() - started)
  }
  return distribution(took)
}

async function insertBig (ctx: BenchContext, schema: string, deadLetters: number, keys: number): Promise<void> {
  await ctx.pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, change_log_id, entity_type, entity_id,
      event_type, action_index, action_type, event, error_code, error_message, attempts, first_failed_at, last_failed_at)
    select gen_random_uuid(), 'bench', gen_random_uuid(), g, 'order', g::text, 'INSERT', 0, 'webhook', '{"data":{}}', 'HTTP_500', 'endpoint answered 500', 3, now(), now()
      from generate_series(1, $1::int) g`, [deadLetters])
  await ctx.pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id, blocking_event_id)
    select gen_random_uuid(), 'order', g::text, gen_random_uuid() from generate_series(1, $1::int) g`, [keys])
  for (const table of ['tb_observer', 'tb_observer_dead_letter', 'tb_observer_key']) await ctx.pool.query(`vacuum analyze "${schema}".${table}`)
}

export async function size (ctx: BenchContext, sink: Sink): Promise<SizeResult> {
  const observers = ctx.quick ? 10_000 : 100_000
  const deadLetters = ctx.quick ? 100_000 : 1_000_000
  const keys = ctx.quick ? 10_000 : 100_000
  const times = ctx.quick ? 20 : 100
  return await withApp(ctx, 'bench_size', { routes: true }, async (bench) => {
    const prefix = bench.app.observers.options.prefix
    ctx.progress(`size: writing ${observers} observers, ${deadLetters} dead letters, ${keys} held keys`)
    const insertStart = now()
    await insertObservers(ctx.pool, bench.schema, { count: observers, url: `${sink.url}/hook`, entityTypes: ['order', 'customer'] })
    await insertBig(ctx, bench.schema, deadLetters, keys)
    const insertSeconds = (now() - insertStart) / 1000

    const walk: number[] = []
    let cursor: string | null = null
    let first: { total_count: number, total_estimated: boolean } | undefined
    let cursorTo1000: string | undefined
    for (let page = 1; page <= observers / 100; page++) {
      const started = now()
      const res: { json: () => any } = await bench.app.inject({ method: 'GET', url: `${prefix}?page_size=100${cursor === null ? '' : `&cursor=${cursor}`}` })
      walk.push(now() - started)
      const body: { next_cursor: string | null, total_count: number, total_estimated: boolean } = res.json()
      first ??= body
      if (page === observers / 100) cursorTo1000 = cursor ?? undefined
      cursor = body.next_cursor
    }
    const lastPage = observers / 100
    const list = {
      walk_by_cursor_ms: distribution(walk),
      first_page_ms: await timed(bench, `${prefix}?page_size=100`, times),
      page_1000_by_cursor_ms: await timed(bench, `${prefix}?page_size=100&cursor=${cursorTo1000 ?? ''}`, times),
      page_1000_by_number_ms: await timed(bench, `${prefix}?page_size=100&page=${lastPage}`, times),
      total_count: first?.total_count ?? 0,
      total_estimated: first?.total_estimated ?? false
    }
    ctx.progress(`size: list p50 first ${list.first_page_ms.p50} ms, page ${lastPage} by cursor ${list.page_1000_by_cursor_ms.p50} ms, by number ${list.page_1000_by_number_ms.p50} ms; walk p99 ${list.walk_by_cursor_ms.p99} ms`)

    const healthUrl = `${prefix}/runtime/health`
    const reported = (await bench.app.inject({ method: 'GET', url: healthUrl })).json()
    const health = {
      often_ms: await timed(bench, healthUrl, times * 10),
      first_of_period_ms: await firstOfPeriod(bench, healthUrl, ctx.quick ? 3 : 15),
      dead_letters_reported: reported.dead_letters,
      blocked_keys_reported: reported.blocked_keys
    }
    const scrape = {
      often_ms: await timed(bench, `${prefix}/metrics`, times),
      first_of_period_ms: await firstOfPeriod(bench, `${prefix}/metrics`, ctx.quick ? 3 : 15)
    }
    const exact: number[] = []
    for (let i = 0; i < (ctx.quick ? 3 : 10); i++) {
      const started = now()
      await ctx.pool.query(['tb_observer_retry', 'tb_observer_dead_letter', 'tb_observer_key', 'tb_observer_parked']
        .map((table) => `(select count(*) from "${bench.schema}".${table})`).join(' + ').replace(/^/, 'select '))
      exact.push(now() - started)
    }
    const exactCounts = distribution(exact)
    ctx.progress(`size: health p99 ${health.often_ms.p99} ms (first of a period p99 ${health.first_of_period_ms.p99} ms), scrape p99 ${scrape.often_ms.p99} ms (first of a period ${scrape.first_of_period_ms.p99} ms); the exact counts: p50 ${exactCounts.p50} ms`)
    return { observers, dead_letters: deadLetters, held_keys: keys, insert_seconds: round(insertSeconds), list, health, scrape, exact_counts_ms: exactCounts }
  })
}
