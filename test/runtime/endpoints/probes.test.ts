// Every probe resolves its circuit (SPEC 9.3 as amended): an answer that is not 5xx, 408 or 429
// closes it, and a probe that ends with no answer (a shutdown, a crash) is let through again at
// the next probe time, on whichever instance is running then. Real PostgreSQL, real HTTP targets.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import type pg from 'pg'
import { build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { getDatabaseUrl } from '../../helpers/pg.js'
import { kill9, startRuntimeProcess } from '../../helpers/processes.js'
import { countRows, insertChanges, insertObserver } from '../../helpers/rows.js'

const RETRY = { max_attempts: 10, backoff_strategy: 'fixed', initial_delay_ms: 20, jitter: false }
const BREAKER = { minAttempts: 3, coolDownMs: 300, maxCoolDownMs: 300 }

/** A target that answers `mode`: 503, 400, 200, or holds the request without answering. */
async function switchable (t: Parameters<typeof startHttpTarget>[0]) {
  const control = { mode: 503 as 503 | 400 | 200 | 'hold', held: [] as ServerResponse[] }
  const target = await startHttpTarget(t, (_req, res) => {
    if (control.mode === 'hold') control.held.push(res)
    else res.writeHead(control.mode).end()
  })
  return { target, control }
}

async function circuit (pool: pg.Pool, schema: string, endpoint: string): Promise<string | undefined> {
  const { rows } = await pool.query(`select state from "${schema}".tb_observer_endpoint where endpoint = $1`, [endpoint])
  return rows[0]?.state
}

/** Waits until the probe is out and the endpoint holds it (an attempt made before the circuit opened may be held too, until its deadline). */
async function probeHeld (pool: pg.Pool, schema: string, endpoint: string, control: { held: unknown[] }): Promise<void> {
  await eventually(async () => (control.held.length > 0 && await circuit(pool, schema, endpoint) === 'half_open') || undefined, 20_000, 'the probe out, held by the endpoint')
}

t.test('a probe answered 400 closes the circuit: the probe is dead-lettered by its own status, and what waited goes out', async (t) => {
  const { target, control } = await switchable(t)
  const { pool, schema } = await build(t, { runtime: { circuitBreaker: BREAKER } })
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, actions: [{ type: 'webhook', url: target.url }] })
  await insertChanges(pool, schema, 6)
  await eventually(async () => await circuit(pool, schema, target.url) === 'open' || undefined, 20_000, 'the circuit open')
  const before = target.received.length
  control.mode = 400
  await target.waitFor(before + 1, 20_000)
  control.mode = 200
  await eventually(async () => await circuit(pool, schema, target.url) === 'closed' || undefined, 10_000, 'closed by the probe\'s 400')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 5 || undefined, 10_000, 'the other five delivered')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter', "error_code = 'HTTP_400'"), 1, 'the probe itself ends by its status')
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0, 'nothing waits any more')
})

t.test('half-open after a probe with no answer: what waits is due at the next probe time, and the retry rows are not rewritten round after round', async (t) => {
  const { target, control } = await switchable(t)
  let ticks = 0
  // a delivery to no endpoint, failing for its first rounds: each round of the retry worker runs it once
  const actions = { tick: () => { if (++ticks % 10 !== 0) throw new Error('not yet') } }
  const runtime = { circuitBreaker: BREAKER, shutdownTimeoutMs: 200 }
  const first = await build(t, { runtime, actions })
  const { pool, schema } = first
  // a long deadline: the probe cut short by the shutdown is given up on only a minute later
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, timeout_ms: 60_000, actions: [{ type: 'webhook', url: target.url }] })
  await insertObserver(pool, schema, { entity_type: 'clock', retry_config: { ...RETRY, max_attempts: 100 }, actions: [{ type: 'tick' }] })
  await first.app.observers.reload()
  await insertChanges(pool, schema, 6)
  await eventually(async () => await circuit(pool, schema, target.url) === 'open' || undefined, 20_000, 'the circuit open')
  control.mode = 'hold'
  await probeHeld(pool, schema, target.url, control)
  await first.app.close()
  const held = control.held.length
  await build(t, { runtime, actions }, { pool, schema })
  const waiting = async () => (await pool.query(`select pk_observer_retry::text as pk, due_at from "${schema}".tb_observer_retry
    where endpoint = $1 and claimed_until is null order by pk_observer_retry`, [target.url])).rows as Array<{ pk: string, due_at: Date }>
  const rows = await eventually(async () => {
    const rows = await waiting()
    return rows.length === 6 && rows.every((r) => r.due_at.getTime() > Date.now() + 30_000) ? rows : undefined
  }, 10_000, 'all six due at the next probe time, a minute after the last one went')
  await insertChanges(pool, schema, 1, 'clock')
  await eventually(() => ticks >= 10 || undefined, 10_000, 'ten rounds of the retry worker')
  t.same((await waiting()).map((r) => r.pk), rows.map((r) => r.pk), 'the same rows: none taken up and put back meanwhile')
  t.equal(await circuit(pool, schema, target.url), 'half_open', 'still waiting for the next probe time')
  t.equal(control.held.length, held, 'no probe meanwhile')
})

t.test('a probe cancelled by a shutdown: after a restart the next probe goes and recovers the endpoint', async (t) => {
  const { target, control } = await switchable(t)
  const runtime = { circuitBreaker: BREAKER, shutdownTimeoutMs: 200 }
  const first = await build(t, { runtime })
  const { pool, schema } = first
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, timeout_ms: 1500, actions: [{ type: 'webhook', url: target.url }] })
  await first.app.observers.reload()
  await insertChanges(pool, schema, 6)
  await eventually(async () => await circuit(pool, schema, target.url) === 'open' || undefined, 20_000, 'the circuit open')
  control.mode = 'hold'
  await probeHeld(pool, schema, target.url, control)
  await first.app.close()
  t.equal(await circuit(pool, schema, target.url), 'half_open', 'the shutdown cancelled the probe: no verdict')
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'cancelled'"), 1, 'the cancelled probe is logged as such')
  control.mode = 200
  await build(t, { runtime }, { pool, schema })
  await eventually(async () => await circuit(pool, schema, target.url) === 'closed' || undefined, 15_000, 'closed by the next probe')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 6 || undefined, 10_000, 'all six delivered')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
})

t.test('a probe whose instance is killed: another instance sends the next probe at its time and recovers the endpoint', async (t) => {
  const { target, control } = await switchable(t)
  const url = await getDatabaseUrl()
  const { pool, schema } = await build(t, { runtime: { start: false } })
  await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, timeout_ms: 1500, actions: [{ type: 'webhook', url: target.url }] })
  const child = await startRuntimeProcess(t, url, schema, 'default', { circuitBreaker: BREAKER })
  await insertChanges(pool, schema, 6)
  await eventually(async () => await circuit(pool, schema, target.url) === 'open' || undefined, 20_000, 'the circuit open')
  control.mode = 'hold'
  await probeHeld(pool, schema, target.url, control)
  await kill9(child)
  t.equal(await circuit(pool, schema, target.url), 'half_open', 'killed during the probe')
  control.mode = 200
  // the dead instance's claims on what it was running lapse within CLAIM_MS (15 s), no longer renewed
  await build(t, { runtime: { circuitBreaker: BREAKER } }, { pool, schema })
  try {
    await eventually(async () => await circuit(pool, schema, target.url) === 'closed' || undefined, 35_000, 'closed by the other instance\'s probe')
  } catch (err) {
    t.comment(JSON.stringify([(await pool.query(`select pk_observer_retry, due_at, claimed_until, last_error, now() from "${schema}".tb_observer_retry`)).rows, (await pool.query(`select * from "${schema}".tb_observer_endpoint`)).rows, control.held.length, target.received.length]))
    throw err
  }
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 0 || undefined, 10_000, 'nothing waits any more')
  const delivered = new Set(target.received.filter((r) => r.json?.entity_type === 'order').map((r) => r.json.event_id))
  t.equal(delivered.size, 6, 'every event reached the endpoint')
})
