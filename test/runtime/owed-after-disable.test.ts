// Nothing owed is dropped without a trace (SPEC 9.3, issue 24 item 3): what comes due for an
// observer that an auto-disabled endpoint took down is dead-lettered as ENDPOINT_DISABLED, however
// late it was written; a retry of an observer disabled or deleted by hand ends as a `cancelled`
// log row whose code says why.
import t from 'tap'
import type pg from 'pg'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'

const RETRY = { max_attempts: 10, backoff_strategy: 'fixed', initial_delay_ms: 20, jitter: false }

/** A retry row as a batch still in flight at the disabling writes it: committed after, due at once. */
async function lateRetry (pool: pg.Pool, schema: string, observerId: string, actionIndex: number, endpoint: string): Promise<void> {
  await pool.query(`insert into "${schema}".tb_observer_retry (observer_id, event_id, change_log_id, action_index, event, attempt_number, first_failed_at, due_at, last_error, endpoint)
    values ($1, gen_random_uuid(), null, $2, $3, 2, now(), now(), 'HTTP_503', $4)`,
  [observerId, actionIndex, JSON.stringify({ event_id: '6c1d1f4e-0f0a-4b7e-9a2f-1d2e3f4a5b6c', event_type: 'INSERT', entity_type: 'order', entity_id: 'late', tenant_id: null, user_id: null, timestamp: new Date().toISOString(), data: {}, before: null, changes: null, trace_id: null, change_log_id: null }), endpoint])
}

t.test('auto-disable racing a batch in flight: what comes due later, and the observer\'s other actions, are dead-lettered as ENDPOINT_DISABLED', async (t) => {
  const dead = await startHttpTarget(t, (_req, res) => { res.writeHead(503).end('down') })
  // the second action's endpoint answers two of four: too few failures to open its circuit, so its retries stay scheduled
  let answered = 0
  const other = await startHttpTarget(t, (_req, res) => { res.writeHead(++answered <= 2 ? 200 : 503).end() })
  const { app, pool, schema } = await build(t, { runtime: { circuitBreaker: { minAttempts: 3, coolDownMs: 60_000, disableAfterMs: 300 } } })
  const observer = await insertObserver(pool, schema, {
    entity_type: 'order',
    retry_config: { ...RETRY, initial_delay_ms: 60_000 },
    actions: [{ type: 'webhook', url: dead.url }, { type: 'webhook', url: other.url }]
  })
  await app.observers.reload()
  await insertChanges(pool, schema, 4)
  await eventually(async () => (await pool.query(`select state from "${schema}".tb_observer_endpoint where endpoint = $1`, [dead.url])).rows[0]?.state === 'disabled' || undefined, 20_000, 'the endpoint disabled')
  t.ok(await countRows(pool, schema, 'tb_observer_retry', `endpoint = '${other.url}'`) > 0, 'the other action still has retries scheduled')
  await lateRetry(pool, schema, observer, 0, dead.url)
  // the other action's retries fall due now
  await pool.query(`update "${schema}".tb_observer_retry set due_at = now()`)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 0 || undefined, 30_000, 'nothing left waiting')
  const { rows } = await pool.query(`select action_index, error_code from "${schema}".tb_observer_dead_letter where observer_id = $1 and event_id = '6c1d1f4e-0f0a-4b7e-9a2f-1d2e3f4a5b6c'`, [observer])
  t.same(rows, [{ action_index: 0, error_code: 'ENDPOINT_DISABLED' }], 'the late retry is a dead letter')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter', 'action_index = 1 and error_code = \'ENDPOINT_DISABLED\''), 2, 'the other action\'s two retries too')
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'cancelled'"), 0, 'nothing dropped as cancelled')
  // an operator's reset brings them back: reset with enable_observers, then retry the dead letters
  await app.observers.endpoints.reset(dead.url, true)
  dead.respond = (_req, res) => { res.writeHead(200).end('ok') }
  other.respond = (_req, res) => { res.writeHead(200).end('ok') }
  t.match(await app.observers.deadLetters.retryAll({ observer_id: observer }), { retried: 7, delivered: 7, failed: 0 })
})

t.test('a retry of an observer disabled by hand, or deleted, ends as a cancelled log row naming why', async (t) => {
  const sink = await startHttpTarget(t, (_req, res) => { res.writeHead(503).end() })
  const { app, pool, schema } = await build(t, { runtime: { circuitBreaker: false } })
  const disabled = await insertObserver(pool, schema, { entity_type: 'order', retry_config: { ...RETRY, initial_delay_ms: 60_000 }, actions: [{ type: 'webhook', url: sink.url }] })
  const deleted = await insertObserver(pool, schema, { entity_type: 'order', retry_config: { ...RETRY, initial_delay_ms: 60_000 }, actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 1)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 2 || undefined, 30_000, 'both retries scheduled')
  await pool.query(`update "${schema}".tb_observer set enabled = false where id = $1`, [disabled])
  await pool.query(`update "${schema}".tb_observer set deleted_at = now() where id = $1`, [deleted])
  await pool.query(`update "${schema}".tb_observer_retry set due_at = now()`)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 0 || undefined, 30_000, 'both retries ended')
  const { rows } = await pool.query(`select observer_id, error_code from "${schema}".tb_observer_log where status = 'cancelled' order by error_code`)
  t.same(rows, [{ observer_id: deleted, error_code: 'OBSERVER_DELETED' }, { observer_id: disabled, error_code: 'OBSERVER_DISABLED' }])
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
})
