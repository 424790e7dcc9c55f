// An attempt that outlives HANDOVER_MS on the read path does not hold its batch: the batch commits
// it as a claimed retry of the same attempt and moves on, and the attempt's end is settled on its own.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'
import type pg from 'pg'

const RETRY = { max_attempts: 5, backoff_strategy: 'fixed', initial_delay_ms: 20, jitter: false }

async function checkpoint (pool: pg.Pool, schema: string): Promise<string | undefined> {
  const { rows } = await pool.query(`select last_change_log_id::text as id from "${schema}".observer_checkpoints`)
  return rows[0]?.id
}

async function waiting (pool: pg.Pool, schema: string, observerId: string): Promise<Array<{ attempt_number: number, claimed: boolean }>> {
  const { rows } = await pool.query(`select attempt_number, coalesce(claimed_until > now(), false) as claimed from "${schema}".tb_observer_retry where observer_id = $1`, [observerId])
  return rows
}

t.test('a held attempt lets its batch commit and the next events through; its end is logged, retried or done, once', async (t) => {
  const held: ServerResponse[] = []
  const slow = await startHttpTarget(t, (_req, res) => { held.push(res) })
  const fast = await startHttpTarget(t)
  const { pool, schema } = await build(t)
  const slowId = await insertObserver(pool, schema, { entity_type: 'order', priority: 1, retry_config: RETRY, actions: [{ type: 'webhook', url: slow.url }] })
  await insertObserver(pool, schema, { entity_type: 'order', priority: 2, actions: [{ type: 'webhook', url: fast.url }] })
  await insertChanges(pool, schema, 3)
  await slow.waitFor(3)
  await fast.waitFor(3)
  // the batch committed while the three answers are still outstanding
  const { rows: [head] } = await pool.query(`select max(pk_entity_change_log)::text as id from "${schema}".tb_entity_change_log`)
  await eventually(async () => await checkpoint(pool, schema) === head.id || undefined, 10_000, 'the checkpoint past the held batch')
  t.same(await waiting(pool, schema, slowId), [1, 2, 3].map(() => ({ attempt_number: 1, claimed: true })), 'each held attempt waits as attempt 1, claimed by this instance')
  t.equal(held.length, 3, 'and is still in flight: nothing else ran it')

  // later events go through meanwhile (the slow endpoint answers new requests at once from here:
  // whether fast's or slow's requests of these events arrive first is up to the event loop)
  slow.respond = (_req, res) => { res.writeHead(200).end('ok') }
  await insertChanges(pool, schema, 2)
  await fast.waitFor(5)
  await slow.waitFor(5)
  t.equal(held.length, 3, 'the held attempts are still outstanding')

  held[0].writeHead(200).end('ok')
  held[1].writeHead(500).end('try again')
  held[2].writeHead(200).end('ok')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', `observer_id = '${slowId}' and status = 'success'`) === 5 || undefined, 10_000, 'all five delivered to the slow endpoint')
  const { rows: logs } = await pool.query(`select event_id::text, status, attempt_number from "${schema}".tb_observer_log where observer_id = $1 order by event_id, attempt_number`, [slowId])
  const failed = logs.filter((l) => l.status === 'failed')
  t.equal(failed.length, 1, 'the 500 is logged as a failed attempt 1')
  t.match(logs.filter((l) => l.event_id === failed[0].event_id), [{ status: 'failed', attempt_number: 1 }, { status: 'success', attempt_number: 2 }], 'and retried as attempt 2')
  t.equal(logs.length, 6, 'one row per attempt: five first attempts and the retry')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry') === 0 || undefined, 5000, 'no retry left')
  const perEvent = new Map<string, number>()
  for (const r of slow.received) perEvent.set(r.json.event_id, (perEvent.get(r.json.event_id) ?? 0) + 1)
  t.same([...perEvent.values()].sort(), [1, 1, 1, 1, 2], 'the slow endpoint got each event once, the failed one twice')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
})

t.test('a shutdown interrupts a handed-over attempt: it waits, unclaimed, as the same attempt, and the next start delivers it', async (t) => {
  const held: ServerResponse[] = []
  const slow = await startHttpTarget(t, (_req, res) => { held.push(res) })
  const { app, pool, schema } = await build(t, { runtime: { shutdownTimeoutMs: 300 } })
  const slowId = await insertObserver(pool, schema, { entity_type: 'order', retry_config: RETRY, actions: [{ type: 'webhook', url: slow.url }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 1)
  await slow.waitFor(1)
  await eventually(async () => (await waiting(pool, schema, slowId))[0]?.claimed === true || undefined, 10_000, 'the attempt handed over')
  await app.observers.stop()
  t.same(await waiting(pool, schema, slowId), [{ attempt_number: 1, claimed: false }], 'interrupted: waiting as attempt 1, free for any instance')
  t.equal(await countRows(pool, schema, 'tb_observer_log', "status = 'cancelled'"), 1, 'the interrupted attempt is logged')
  for (const res of held) res.destroy()
  slow.respond = (_req, res) => { res.writeHead(200).end('ok') }
  await app.observers.start()
  await eventually(async () => await countRows(pool, schema, 'tb_observer_log', "status = 'success'") === 1 || undefined, 10_000, 'delivered after the restart')
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0)
})
