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
