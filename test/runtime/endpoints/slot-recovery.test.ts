// A cold start's first answers are slow (connections, a JIT still warming up): the read path sends
// what it queued for the endpoint to wait durably, spread over the time the endpoint seemed to
// take. Once it answers quickly, that spread is moot: what waits for its slots goes now.
import t from 'tap'
import { build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../../helpers/rows.js'

t.test('deliveries spilled while an endpoint answered slowly are due at once when it answers quickly again', async (t) => {
  const sink = await startHttpTarget(t)
  let slow = true
  sink.respond = (_req, res) => {
    if (slow) setTimeout(() => res.writeHead(200).end('ok'), 700)
    else res.writeHead(200).end('ok')
  }
  const { app, pool, schema } = await build(t, { runtime: { maxInFlightPerEndpoint: 2, batchSize: 50 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 300)
  // while it seemed slow, the read path's deliveries were sent to wait, spread seconds ahead
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry', "due_at > now() + interval '5 seconds'") > 0 || undefined, 10_000, 'deliveries waiting seconds ahead')
  // then it answers at once: every delivery still waiting is due now
  slow = false
  // an answer of the slow phase still in flight can make it look slow again for a moment, and what
  // waits then is spread afresh until the next quick answer pulls it forward again (seconds on a
  // loaded machine, not the up to 30 s of the spread): nothing is lost either way
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry', "due_at > now() + interval '1 second'") === 0 || undefined, 10_000, 'nothing waiting further ahead')
  await sink.waitFor(300, 60_000)
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 300, 'every event delivered')
  t.equal(await eventually(async () => { const n = await countRows(pool, schema, 'tb_observer_log', "status = 'success'"); return n >= 300 && n }, 10_000, 'every success logged'), 300, 'and logged once each')
})
