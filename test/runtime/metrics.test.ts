import t from 'tap'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { insertChanges, insertObserver } from '../helpers/rows.js'

t.test('Prometheus metrics count events and actions by outcome and expose lag, retries and dead letters', async (t) => {
  const sink = await startHttpTarget(t)
  sink.respond = (req, res) => { res.writeHead(req.json.entity_id === '1' ? 404 : 200).end() }
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 3)
  await eventually(async () => (await app.observers.health()).dead_letters === 1 || undefined)
  await eventually(async () => (await app.observers.health()).events_processed === 3 || undefined)
  const text = await app.observers.metrics.metrics()
  t.match(text, /observers_events_read_total 3/)
  t.match(text, /observers_change_log_reads_total\{result="rows"\} [1-3]\n/)
  t.match(text, /observers_actions_total\{action_type="webhook",outcome="success"\} 2/)
  t.match(text, /observers_actions_total\{action_type="webhook",outcome="permanent"\} 1/)
  t.match(text, /observers_action_duration_seconds_count\{action_type="webhook"\} 3/)
  t.match(text, /observers_batch_duration_seconds_count [1-9]/)
  t.match(text, /observers_dead_letters 1/)
  t.match(text, /observers_retries_pending 0/)
  t.match(text, /observers_lag_events 0/)
})

t.test('a real backlog: health and the gauges count the 1 000 rows the paused runtime owes, and how old they are; a scrape is one query', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 1)
  await eventually(async () => (await app.observers.health()).events_processed === 1 || undefined)
  await app.observers.stop()
  // written 45 s ago, while the runtime was away
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data, created_at)
    select 'order', g::text, 'INSERT', '{}', now() - interval '45 seconds' from generate_series(1, 1000) g`)

  // the gauges are at most a few seconds old
  const health = await eventually(async () => { const h = await app.observers.health(); return h.lag_events === 1000 ? h : undefined }, 10_000, 'the backlog in health')
  t.ok(health.lag_seconds >= 45 && health.lag_seconds < 55, `the oldest row is 45 s old (${health.lag_seconds})`)
  let checkouts = 0
  const count = (): void => { checkouts++ }
  pool.on('acquire', count)
  const text = await app.observers.metrics.metrics()
  pool.off('acquire', count)
  t.ok(checkouts <= 1, 'the scrape ran one query at most (none when health just read the gauges)')
  t.match(text, /\nobservers_lag_events 1000\n/)
  const seconds = Number(/\nobservers_lag_seconds ([\d.]+)\n/.exec(text)?.[1])
  t.ok(seconds >= 45 && seconds < 55, `the lag gauge: ${seconds} s`)

  await app.observers.start()
  const drained = await eventually(async () => { const h = await app.observers.health(); return h.lag_events === 0 ? h : undefined }, 30_000, 'the backlog to drain')
  t.equal(drained.lag_seconds, 0)
  t.equal((await sink.waitFor(1001)).length, 1001, 'and every row was delivered')
  t.match(await app.observers.metrics.metrics(), /\nobservers_lag_events 0\n/)
})

t.test('health and the scrape share one read of the gauges per period: a flood of health calls is one statement', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  let checkouts = 0
  const count = (): void => { checkouts++ }
  pool.on('acquire', count)
  t.teardown(() => { pool.off('acquire', count) })
  const answers = await Promise.all(Array.from({ length: 20 }, async () => await app.observers.health()))
  t.equal(checkouts, 1, 'twenty at once share one statement')
  t.equal(new Set(answers.map((a) => JSON.stringify(a))).size, 1, 'and one answer')
  for (let i = 0; i < 50; i++) await app.observers.health()
  await app.observers.metrics.metrics()
  t.equal((await app.inject({ url: '/observers/runtime/health' })).statusCode, 503, 'the route answers (stopped)')
  t.equal(checkouts, 1, 'fifty more, a scrape and the route within the period: no other statement')

  await pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, entity_type, entity_id, event_type,
      action_index, action_type, event, attempts, first_failed_at, last_failed_at)
    values (gen_random_uuid(), 'o', gen_random_uuid(), 'order', '1', 'INSERT', 0, 'webhook', '{}', 1, now(), now())`)
  await eventually(async () => (await app.observers.health()).dead_letters === 1 || undefined, 10_000, 'the new dead letter, once the period is over')
  t.match(await app.observers.metrics.metrics(), /\nobservers_dead_letters 1\n/, 'the scrape shows what health read')
})

t.test('delivery latency is a histogram per action type, from the change to the attempt that delivered it', async (t) => {
  const sink = await startHttpTarget(t)
  sink.respond = (_req, res) => { res.writeHead(sink.received.length === 1 ? 503 : 200).end() }
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }, { type: 'log' }], retry_config: { max_attempts: 2, backoff_strategy: 'fixed', initial_delay_ms: 10, max_delay_ms: 10, jitter: false } })
  await app.observers.reload()
  // a change made 20 s ago: its webhook fails once, then is delivered
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, created_at) values ('order', '1', 'INSERT', now() - interval '20 seconds')`)
  const text = await eventually(async () => {
    const scraped = await app.observers.metrics.metrics()
    return /observers_delivery_latency_seconds_count\{action_type="webhook"\}/.test(scraped) ? scraped : undefined
  }, 10_000, 'the delivery')
  t.match(text, /observers_delivery_latency_seconds_count\{action_type="webhook"\} 1\n/, 'one delivery, not one per attempt')
  t.match(text, /observers_delivery_latency_seconds_count\{action_type="log"\} 1\n/)
  t.match(text, /observers_delivery_latency_seconds_bucket\{le="10",action_type="webhook"\} 0\n/, 'not within 10 s of the change')
  t.match(text, /observers_delivery_latency_seconds_bucket\{le="30",action_type="webhook"\} 1\n/, 'but within 30')
  t.match(text, /observers_action_duration_seconds_count\{action_type="webhook"\} 2\n/, 'while both attempts have a duration')
})

t.test('a stored event whose timestamp does not parse is still delivered; it just has no latency', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  const observerId = await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  const event = { event_id: '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b', event_type: 'INSERT', entity_type: 'order', entity_id: '1', timestamp: 'not a time', data: {} }
  const { rows: [letter] } = await pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, entity_type, entity_id, event_type,
      action_index, action_type, event, attempts, first_failed_at, last_failed_at)
    values ($1, 'o', $2, 'order', '1', 'INSERT', 0, 'webhook', $3, 1, now(), now()) returning id`, [observerId, event.event_id, JSON.stringify(event)])
  t.match(await app.observers.deadLetters.retry(letter.id), { status: 'delivered' })
  const text = await app.observers.metrics.metrics()
  t.match(text, /observers_actions_total\{action_type="webhook",outcome="success"\} 1\n/)
  t.notMatch(text, /observers_delivery_latency_seconds_count\{action_type="webhook"\}/)
})
