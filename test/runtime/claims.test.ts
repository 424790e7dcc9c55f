// Every commit that ends a claim checks that the claim is still its own (issue 24 item 6): a retry
// whose claim ran out while its attempt was running, and was taken and run by another instance,
// commits nothing when that attempt ends: no second log row, no retry after the success.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'

t.test('two instances where one attempt outlives its claim: the late one commits nothing', async (t) => {
  const held: ServerResponse[] = []
  let failFirst = true
  const sink = await startHttpTarget(t, (_req, res) => {
    if (failFirst) {
      failFirst = false
      res.writeHead(503).end()
    } else held.push(res)
  })
  const a = await build(t, { runtime: { circuitBreaker: false } })
  const { pool, schema } = a
  const b = await build(t, { runtime: { circuitBreaker: false } }, { pool, schema })
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: { max_attempts: 5, backoff_strategy: 'fixed', initial_delay_ms: 60_000, jitter: false }, actions: [{ type: 'webhook', url: sink.url }] })
  await a.app.observers.reload()
  await b.app.observers.reload()
  await insertChanges(pool, schema, 1)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 1 || undefined, 30_000, 'the retry scheduled')
  // an instance claims it and sends attempt 2, which the endpoint holds
  await pool.query(`update "${schema}".tb_observer_retry set due_at = now()`)
  await sink.waitFor(2, 30_000)
  // that claim runs out while the attempt is still running (its worker stalled and renewed it no
  // more, then another took the row): the retry is claimed and sent again
  await pool.query(`update "${schema}".tb_observer_retry set claimed_until = now() - interval '1 second', claimed_by = gen_random_uuid()`)
  await sink.waitFor(3, 30_000)
  held[1].writeHead(200).end('ok')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 1 || undefined, 30_000, 'the second claim delivered it')
  // the first attempt ends last, a success too, from a claim that is no longer its own
  const committedBefore = await countRows(pool, schema, 'tb_observer_log')
  held[0].writeHead(200).end('ok')
  await a.app.observers.stop()
  await b.app.observers.stop()
  t.equal(await countRows(pool, schema, 'tb_observer_log'), committedBefore, 'its end wrote no log row')
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'success'"), 1, 'one success logged, not two')
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0, 'and nothing scheduled after it')
})
