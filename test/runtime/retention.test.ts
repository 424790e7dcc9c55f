import t from 'tap'
import type pg from 'pg'
import { build } from '../helper.js'
import { counterValue } from '../helpers/metrics.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'
import { runRetention } from '../../lib/runtime/retention.js'
import { createMetrics } from '../../lib/runtime/metrics/metrics.js'

type App = Awaited<ReturnType<typeof build>>['app']
const contextOf = (app: App) => ({ options: app.observers.options, db: app.observers.db, schema: app.observers.schema, log: app.log, metrics: createMetrics() })
const NOTHING = { logs: 0, changes: 0, deadLetters: 0, retries: 0, keys: 0, payloads: 0 }
const uuid = async (pool: pg.Pool): Promise<string> => (await pool.query('select gen_random_uuid()::text as id')).rows[0].id

t.test('retention removes old log rows and consumed old change-log rows only', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false }, retention: { logDays: 14, changeLogDays: 7 } })
  const ids = await insertChanges(pool, schema, 6)
  // four rows are old; the listener has read the first three
  await pool.query(`update "${schema}".tb_entity_change_log set created_at = now() - interval '8 days' where pk_entity_change_log <= $1`, [ids[3]])
  const { rows: [third] } = await pool.query(`select txid::text from "${schema}".tb_entity_change_log where pk_entity_change_log = $1`, [ids[2]])
  await pool.query(`insert into "${schema}".observer_checkpoints (listener_id, last_txid, last_change_log_id) values ('default', $1::xid8, $2)`, [third.txid, ids[2]])
  await pool.query(`insert into "${schema}".tb_observer_log (observer_id, event_id, entity_type, entity_id, event_type, action_index, action_type, status, attempt_number, max_attempts, started_at, created_at)
    select gen_random_uuid(), gen_random_uuid(), 'order', '1', 'INSERT', 0, 'log', 'success', 1, 1, now(), now() - (g || ' days')::interval
    from generate_series(10, 20) g where g <> 14`)
  const ctx = contextOf(app)
  const removed = await runRetention(ctx, new AbortController().signal)
  t.same(removed, { ...NOTHING, logs: 6, changes: 3 }, 'logs older than 14 days; old change-log rows at or before the checkpoint')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 4)
  const { rows } = await pool.query(`select pk_entity_change_log::text as id from "${schema}".tb_entity_change_log order by 1`)
  t.same(rows.map((r) => r.id), ids.slice(3), 'the unread old row and the recent ones stay')
  t.equal(await counterValue(ctx.metrics.registry, 'observers_retention_removed_total', { table: 'tb_observer_log' }), 6, 'counted by table')
})

t.test('old dead letters go, unless an operator\'s retry holds one', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false }, retention: { deadLetterDays: 30 } })
  const insert = async (name: string, age: string, claimed = false): Promise<void> => {
    await pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, entity_type, entity_id, event_type, action_index, action_type, event, attempts, first_failed_at, last_failed_at, retry_claimed_until)
      values (gen_random_uuid(), $1, gen_random_uuid(), 'order', '1', 'INSERT', 0, 'webhook', '{}', 5, now() - $2::interval, now() - $2::interval, $3)`,
    [name, age, claimed ? new Date(Date.now() + 60_000) : null])
  }
  await insert('old', '31 days')
  await insert('old-claimed', '40 days', true)
  await insert('recent', '29 days')
  const ctx = contextOf(app)
  t.same(await runRetention(ctx, new AbortController().signal), { ...NOTHING, deadLetters: 1 })
  const { rows } = await pool.query(`select observer_name from "${schema}".tb_observer_dead_letter order by 1`)
  t.same(rows.map((r) => r.observer_name), ['old-claimed', 'recent'])
  t.equal(await counterValue(ctx.metrics.registry, 'observers_retention_removed_total', { table: 'tb_observer_dead_letter' }), 1)
})

t.test('a retry of a deleted observer ends as a cancelled log row; every other retry stays', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const actions = [{ type: 'log' }]
  const live = await insertObserver(pool, schema, { actions })
  const disabled = await insertObserver(pool, schema, { actions, enabled: false })
  const deleted = await insertObserver(pool, schema, { actions })
  await pool.query(`update "${schema}".tb_observer set deleted_at = now() where id = $1`, [deleted])
  const retry = async (observer: string, claimed: boolean): Promise<string> => {
    const event = await uuid(pool)
    await pool.query(`insert into "${schema}".tb_observer_retry (observer_id, event_id, action_index, event, attempt_number, due_at, claimed_until)
      values ($1, $2, 0, $3, 3, now() + interval '1 day', $4)`,
    [observer, event, JSON.stringify({ event_id: event, entity_type: 'order', entity_id: '42', event_type: 'UPDATE', trace_id: null }), claimed ? new Date(Date.now() + 60_000) : null])
    return event
  }
  await retry(live, false)
  await retry(disabled, false)
  const cancelled = await retry(deleted, false)
  await retry(deleted, true)
  t.same(await runRetention(contextOf(app), new AbortController().signal), { ...NOTHING, retries: 1 })
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 3, 'the live and disabled observers\' retries, and the one a worker holds')
  const { rows } = await pool.query(`select event_id, status, error_code, entity_type, entity_id, event_type, attempt_number from "${schema}".tb_observer_log`)
  t.same(rows, [{ event_id: cancelled, status: 'cancelled', error_code: 'OBSERVER_GONE', entity_type: 'order', entity_id: '42', event_type: 'UPDATE', attempt_number: 3 }])
})

t.test('a held key of a disabled or deleted observer goes once nothing is parked behind it and nothing blocks it', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const observer = await insertObserver(pool, schema, { actions: [{ type: 'log' }], ordering: 'entity', enabled: false })
  const live = await insertObserver(pool, schema, { actions: [{ type: 'log' }], ordering: 'entity' })
  const deleted = await insertObserver(pool, schema, { actions: [{ type: 'log' }], ordering: 'entity' })
  await pool.query(`update "${schema}".tb_observer set deleted_at = now() where id = $1`, [deleted])
  const key = async (entity: string, blocker: string | null, of = observer): Promise<void> => {
    await pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id, blocking_event_id) values ($1, 'order', $2, $3)`, [of, entity, blocker])
  }
  // the release worker frees a live observer's keys, with the reader's view of them
  await key('live', null, live)
  await key('of-deleted', null, deleted)
  await key('empty', null)
  await key('resolved', await uuid(pool))
  await key('parked', null)
  await pool.query(`insert into "${schema}".tb_observer_parked (observer_id, entity_type, entity_id, event_id, event) values ($1, 'order', 'parked', gen_random_uuid(), '{}')`, [observer])
  const retrying = await uuid(pool)
  await key('retrying', retrying)
  await pool.query(`insert into "${schema}".tb_observer_retry (observer_id, event_id, action_index, event, attempt_number, due_at) values ($1, $2, 0, '{}', 2, now())`, [observer, retrying])
  const dead = await uuid(pool)
  await key('dead-lettered', dead)
  await pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, entity_type, entity_id, event_type, action_index, action_type, event, attempts, first_failed_at, last_failed_at)
    values ($1, 'o', $2, 'order', 'dead-lettered', 'INSERT', 0, 'log', '{}', 5, now(), now())`, [observer, dead])
  t.same(await runRetention(contextOf(app), new AbortController().signal), { ...NOTHING, keys: 3 })
  const { rows } = await pool.query(`select entity_id from "${schema}".tb_observer_key order by 1`)
  t.same(rows.map((r) => r.entity_id), ['dead-lettered', 'live', 'parked', 'retrying'], 'a parked event, a retry due and a dead letter each keep their key, and a live observer keeps its own')
  t.equal(await countRows(pool, schema, 'tb_observer_parked'), 1, 'the parked event stays')
})

t.test('old request payloads are emptied, their log rows kept', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false }, retention: { requestPayloadDays: 3 } })
  await pool.query(`insert into "${schema}".tb_observer_log (observer_id, event_id, entity_type, entity_id, event_type, action_index, action_type, status, attempt_number, max_attempts, started_at, created_at, request_payload)
    select gen_random_uuid(), gen_random_uuid(), 'order', g::text, 'INSERT', 0, 'webhook', 'failed', 1, 5, now(), now() - (g || ' days')::interval, '{"body": "x"}'
    from generate_series(1, 6) g where g <> 3`)
  const ctx = contextOf(app)
  t.same(await runRetention(ctx, new AbortController().signal), { ...NOTHING, payloads: 3 })
  const { rows } = await pool.query(`select entity_id, request_payload is not null as kept from "${schema}".tb_observer_log order by entity_id::int`)
  t.same(rows.map((r) => r.kept), [true, true, false, false, false], 'older than 3 days: emptied')
  t.equal(rows.length, 5, 'no log row removed')
  t.same(await runRetention(ctx, new AbortController().signal), NOTHING, 'the next pass starts where this one ended')
})

t.test('one instance at a time runs retention', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false }, retention: { logDays: 1 } })
  const other = await build(t, { runtime: { start: false }, retention: { logDays: 1 } }, { pool, schema })
  await pool.query(`insert into "${schema}".tb_observer_log (observer_id, event_id, entity_type, entity_id, event_type, action_index, action_type, status, attempt_number, max_attempts, started_at, created_at)
    select gen_random_uuid(), gen_random_uuid(), 'order', '1', 'INSERT', 0, 'log', 'success', 1, 1, now(), now() - interval '2 days' from generate_series(1, 12000)`)
  // another instance's pass, as the lock shows it
  const holder = await pool.connect()
  await holder.query("select pg_advisory_lock(hashtext('fastify-observers retention'), hashtext($1))", [schema])
  t.equal(await runRetention(contextOf(app), new AbortController().signal), null, 'skipped while another instance runs')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 12000, 'nothing removed')
  await holder.query("select pg_advisory_unlock(hashtext('fastify-observers retention'), hashtext($1))", [schema])
  holder.release()
  const [a, b] = await Promise.all([runRetention(contextOf(app), new AbortController().signal), runRetention(contextOf(other.app), new AbortController().signal)])
  t.equal((a?.logs ?? 0) + (b?.logs ?? 0), 12000, 'every row removed once')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 0)
})
