// Rate limits never hold a batch, the checkpoint or a shutdown (SPEC 9.3, issue 24): a delivery
// whose slot under its endpoint's rate is more than a moment away waits durably, with no attempt
// used, and goes out when its slot comes. Real PostgreSQL, real HTTP targets.
import t from 'tap'
import type pg from 'pg'
import { build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../../helpers/rows.js'

async function checkpoint (pool: pg.Pool, schema: string): Promise<string | undefined> {
  const { rows } = await pool.query(`select last_change_log_id::text as id from "${schema}".observer_checkpoints`)
  return rows[0]?.id
}

t.test('a rate limit of one a minute with a shutdown: close() ends within shutdownTimeoutMs, and what waits is kept and goes out later', async (t) => {
  const target = await startHttpTarget(t)
  const shutdownTimeoutMs = 1000
  const first = await build(t, { runtime: { shutdownTimeoutMs } })
  const { pool, schema } = first
  const observer = await insertObserver(pool, schema, { entity_type: 'order', actions: [{ type: 'webhook', url: target.url, rate_limit: { per_second: 1 / 60 } }] })
  await first.app.observers.reload()
  await insertChanges(pool, schema, 5)
  await target.waitFor(1)
  const closing = first.app.close().then(() => 'closed' as const)
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), shutdownTimeoutMs + 4000) })
  t.equal(await Promise.race([closing, late]), 'closed', 'close() did not wait for the rate limit')
  clearTimeout(timer)
  await closing

  const { rows } = await pool.query(`select attempt_number, last_error, extract(epoch from due_at) * 1000 as due from "${schema}".tb_observer_retry order by due_at`)
  t.equal(rows.length, 4, 'the other four wait durably')
  t.ok(rows.every((r) => r.attempt_number === 1 && /rate-limited/.test(r.last_error)), 'as their first attempt, saying why')
  for (let i = 1; i < rows.length; i++) t.ok(rows[i].due - rows[i - 1].due >= 59_000, `each due a minute after the one before (${Math.round(rows[i].due - rows[i - 1].due)} ms)`)
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 1, 'no attempt was used for them')
  t.equal(target.received.length, 1)

  // the limit lifted and the time come: the next instance sends them, each once
  await pool.query(`update "${schema}".tb_observer set actions = $2 where id = $1`, [observer, JSON.stringify([{ type: 'webhook', url: target.url, rate_limit: { per_second: 1000 } }])])
  await pool.query(`update "${schema}".tb_observer_retry set due_at = now()`)
  await pool.query(`update "${schema}".tb_observer_endpoint set rate_tat = null, rate_booked = null`)
  await build(t, {}, { pool, schema })
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 5 || undefined, 10_000, 'all five delivered')
  t.equal(new Set(target.received.map((r) => r.json.event_id)).size, 5)
  t.equal(target.received.length, 5, 'each once')
})

t.test('a limit of one a second holds neither the checkpoint nor the deliveries to other endpoints', async (t) => {
  const limited = await startHttpTarget(t)
  const other = await startHttpTarget(t)
  const { pool, schema } = await build(t)
  await insertObserver(pool, schema, { entity_type: 'slow', actions: [{ type: 'webhook', url: limited.url, rate_limit: { per_second: 1 } }] })
  await insertObserver(pool, schema, { entity_type: 'order', actions: [{ type: 'webhook', url: other.url }] })
  await insertChanges(pool, schema, 5, 'slow')
  const [last] = (await insertChanges(pool, schema, 5, 'order')).slice(-1)
  await other.waitFor(5)
  await eventually(async () => await checkpoint(pool, schema) === last || undefined, 10_000, 'the checkpoint past every event')
  t.ok(limited.received.length < 5, `the checkpoint moved while the limited endpoint still had deliveries to come (${limited.received.length} of 5 so far)`)
  t.ok(await countRows(pool, schema, 'tb_observer_retry', "last_error like '%rate-limited%'") > 0, 'those wait durably')

  await limited.waitFor(5, 20_000)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 10 || undefined, 10_000, 'all delivered')
  const times = limited.received.map((r) => r.at).sort((a, b) => a - b)
  let densest = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= 1000) j++
    densest = Math.max(densest, i - j + 1)
  }
  t.ok(densest <= 2, `at one a second, give or take arrival jitter (densest second: ${densest})`)
  t.equal(new Set(limited.received.map((r) => r.json.event_id)).size, 5, 'each once')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 10, 'no attempt used for the waits')
})
