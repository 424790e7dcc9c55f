// Claims cover the whole work (issue 24 item 6): a retry whose attempt runs longer than the claim it
// was taken with (a long action timeout, or time queued) keeps its claim while it runs, so a second
// instance does not take the row and send it again; a claim whose worker stopped renewing runs out.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'
import type { RuntimeContext } from '../../lib/runtime/context.js'
import { CLAIM_MS as RUNTIME_CLAIM_MS, Executor } from '../../lib/runtime/delivery/executor.js'
import { runDueRetries } from '../../lib/runtime/stored/retry-worker.js'
import { renewClaims } from '../../lib/db/claim-renewal.repo.js'
import type pg from 'pg'

/** A claim this short: the attempt below outlives it many times over. */
const CLAIM_MS = 3000

const event = { event_id: '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f', event_type: 'UPDATE', entity_type: 'order', entity_id: 'K', tenant_id: null, user_id: null, timestamp: new Date().toISOString(), data: { n: 1 }, before: null, changes: null, trace_id: null, change_log_id: '1' }

const claimedUntil = async (pool: pg.Pool, schema: string): Promise<Date> =>
  (await pool.query(`select claimed_until from "${schema}".tb_observer_retry`)).rows[0].claimed_until

const dbPassed = async (pool: pg.Pool, at: Date): Promise<boolean> =>
  (await pool.query('select now() > $1 as passed', [at])).rows[0].passed

/** A second instance's retry worker, on the same schema (it runs nothing else). */
const instanceOf = (app: Awaited<ReturnType<typeof build>>['app'], schema: string): RuntimeContext => ({
  options: app.observers.options,
  db: app.observers.db,
  schema,
  log: app.log,
  stats: { eventsProcessed: 0, errors: 0, lastError: null, lastErrorAt: 0 },
  executor: new Executor(app.observers.actions, 4)
}) as unknown as RuntimeContext

t.test('two instances where one attempt outlives its claim: the claim is renewed while it runs, and it is sent once', async (t) => {
  const held: ServerResponse[] = []
  // the first request is held until the test answers it; a second one would be answered at once
  const sink = await startHttpTarget(t, (_req, res) => { if (held.length === 0) held.push(res); else res.writeHead(200).end('ok') })
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const observerId = await insertObserver(pool, schema, { entity_type: 'order', actions: [{ type: 'webhook', url: sink.url, timeout_ms: 60_000 }] })
  await pool.query(`insert into "${schema}".tb_observer_retry (observer_id, event_id, change_log_id, action_index, event, attempt_number, due_at)
    values ($1, $2, 1, 0, $3, 2, now())`, [observerId, event.event_id, JSON.stringify(event)])
  const [a, b] = [instanceOf(app, schema), instanceOf(app, schema)]

  // instance A claims the retry and sends it; the endpoint holds the answer
  const roundA = runDueRetries(a, CLAIM_MS)
  await sink.waitFor(1, 10_000)
  const firstEnd = await claimedUntil(pool, schema)
  await eventually(async () => await dbPassed(pool, firstEnd) || undefined, 10_000, 'the end of the claim A took')

  // B looks for due retries after the claim A took would have run out: the row is still A's
  t.equal(await runDueRetries(b, CLAIM_MS), 0, 'instance B claims nothing')
  t.equal(sink.received.length, 1, 'and sends nothing')

  held[0].writeHead(200).end('ok')
  t.equal(await roundA, 1)
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'success'"), 1, 'one success logged')
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0, 'the retry is gone')
  t.equal(sink.received.length, 1, 'sent once')
})

t.test('an attempt the read path handed over keeps its claim while it runs, past the claim it was handed over with', async (t) => {
  const held: ServerResponse[] = []
  const sink = await startHttpTarget(t, (_req, res) => { if (held.length === 0) held.push(res); else res.writeHead(200).end('ok') })
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { entity_type: 'order', actions: [{ type: 'webhook', url: sink.url, timeout_ms: 60_000 }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 1)
  await sink.waitFor(1, 10_000)
  const firstEnd = await eventually(async () => (await pool.query(`select claimed_until from "${schema}".tb_observer_retry where claimed_until is not null`)).rows[0]?.claimed_until as Date | undefined, 10_000, 'the attempt handed over, claimed')
  await eventually(async () => await dbPassed(pool, firstEnd) || undefined, RUNTIME_CLAIM_MS + 10_000, 'the end of the claim it was handed over with')

  t.ok((await claimedUntil(pool, schema)).getTime() > firstEnd.getTime(), 'its claim was renewed')
  t.equal(await runDueRetries(instanceOf(app, schema)), 0, 'another instance claims nothing')
  held[0].writeHead(200).end('ok')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 0 || undefined, 10_000, 'the attempt committed')
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'success'"), 1, 'one success logged')
  t.equal(sink.received.length, 1, 'sent once')
})

t.test('a claim is renewed only while its token is on the row: a claim lost stays lost', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const observerId = await insertObserver(pool, schema, { entity_type: 'order', actions: [{ type: 'log', message_template: 'x' }] })
  const mine = '00000000-0000-4000-8000-000000000001'
  const other = '00000000-0000-4000-8000-000000000002'
  const { rows: [{ pk }] } = await pool.query(`insert into "${schema}".tb_observer_retry (observer_id, event_id, change_log_id, action_index, event, attempt_number, due_at, claimed_by, claimed_until)
    values ($1, $2, 1, 0, $3, 2, now(), $4, now() + interval '1 second') returning pk_observer_retry::text as pk`, [observerId, event.event_id, JSON.stringify(event), other])
  const before = await claimedUntil(pool, schema)
  t.equal(await renewClaims(app.observers.db, schema, { retries: [{ pk, token: mine }], deadLetters: [] }, 3_600_000), 0, 'another worker holds it: not renewed')
  t.equal((await claimedUntil(pool, schema)).getTime(), before.getTime(), 'its claim is untouched')
  t.equal(await renewClaims(app.observers.db, schema, { retries: [{ pk, token: other }], deadLetters: [] }, 3_600_000), 1, 'its holder renews it')
  t.ok((await claimedUntil(pool, schema)).getTime() > before.getTime() + 3_000_000, 'for the whole claim again')
})
