// One circuit decision across instances (SPEC 9.3 as amended): the failure window is one per
// endpoint over every instance, so three instances open a circuit at the totals one would, and a
// close resets it everywhere. Three runtimes on one schema, real PostgreSQL and HTTP.
import t from 'tap'
import pg from 'pg'
import { build, eventually, type Built } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { getDatabaseUrl } from '../../helpers/pg.js'
import { countRows, insertChanges, insertObserver } from '../../helpers/rows.js'

// no retry within the test: each instance makes exactly the attempts its own listener reads
const RETRY = { max_attempts: 10, backoff_strategy: 'fixed', initial_delay_ms: 600_000, jitter: false }

async function instances (t: Parameters<typeof build>[0], runtime: object): Promise<Built[]> {
  const first = await build(t, { runtime: { ...runtime, listenerId: 'a' } })
  const all = [first]
  for (const listenerId of ['b', 'c']) {
    const pool = new pg.Pool({ connectionString: await getDatabaseUrl(), max: 6 })
    t.teardown(async () => { await pool.end() })
    all.push(await build(t, { runtime: { ...runtime, listenerId } }, { pool, schema: first.schema }))
  }
  return all
}

async function state (pool: pg.Pool, schema: string, endpoint: string): Promise<string | undefined> {
  const { rows } = await pool.query(`select state from "${schema}".tb_observer_endpoint where endpoint = $1`, [endpoint])
  return rows[0]?.state
}

t.test('three instances, each making a third of the failing attempts, open one circuit at the one-instance threshold; after a close the window starts afresh everywhere', async (t) => {
  let up = false
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(up ? 200 : 503).end() })
  const [a, b, c] = await instances(t, { circuitBreaker: { minAttempts: 6, coolDownMs: 600_000 } })
  const { pool, schema } = a
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, actions: [{ type: 'webhook', url: target.url }] })
  for (const { app } of [a, b, c]) await app.observers.reload()
  // every listener delivers every event: two events are two failed attempts per instance, six in all
  await insertChanges(pool, schema, 2)
  await target.waitFor(6)
  await eventually(async () => await state(pool, schema, target.url) === 'open' || undefined, 10_000, 'the circuit open on the six failures of three instances')
  t.equal(target.received.length, 6, 'no instance alone had reached the threshold')
  const announced = await countRows(pool, schema, 'tb_entity_change_log', "object_type = 'observers.endpoint' and object_data->>'state' = 'opened'")
  t.equal(announced, 1, 'opened once')

  // closed by hand, on one instance; the six failures are gone from every instance's window
  up = true
  t.same(await b.app.observers.endpoints.reset(target.url, false), { closed: true })
  // the three listeners' retries of one event are one row: two deliveries waited
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 2 || undefined, 10_000, 'what waited delivered')
  up = false
  await insertChanges(pool, schema, 1)
  // each listener attempts the new event (one that had not heard of the close yet waits for it instead)
  const failedSince = async () => await countRows(pool, schema, 'tb_observer_log', "status = 'failed'") - 6
  const window = await eventually(async () => {
    const failed = await failedSince()
    const [view] = await c.app.observers.endpoints.list()
    return failed > 0 && view.failures_window === failed ? view : undefined
  }, 10_000, 'the failures since the close in the window over the three instances')
  t.match(window, { state: 'closed' })
  t.ok(window.failures_window <= 3, `only the failures since the close count (${window.failures_window}), not the six before it`)
  // the two successes after the close count too (unless an instance made one before it heard of the close)
  t.ok(window.attempts_window <= window.failures_window + 2, `attempts since the close (${window.attempts_window})`)
  t.equal(await state(pool, schema, target.url), 'closed', 'and nobody reopened it')
})
