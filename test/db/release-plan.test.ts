// The release round runs every second and after every removed retry or dead letter: it must
// look only at keys whose blocker ended, found along an index, however many keys are held.
import t from 'tap'
import { Kysely, PostgresDialect } from 'kysely'
import { migrateToLatest } from '../../lib/db/migrate.js'
import { loadHeldKeys, releasableKeys, releasableKeysQuery } from '../../lib/db/ordering.repo.js'
import { testPool } from '../helpers/pg.js'

interface PlanNode { 'Node Type': string, 'Relation Name'?: string, 'Actual Rows'?: number, 'Actual Loops'?: number, Plans?: PlanNode[] }
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)]

const HELD = 20000

t.test('with many held keys, a round reads the one whose blocker ended', async (t) => {
  const { pool, schema } = await testPool(t, 2)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  await migrateToLatest(db, schema)
  const { rows: [{ id: observerId }] } = await pool.query<{ id: string }>(
    `insert into "${schema}".tb_observer (name, entity_type, actions, ordering) values ('o', 'order', '[{"type":"webhook","url":"http://127.0.0.1:9/"}]', 'entity') returning id`)
  // every key blocked by a scheduled retry of its first event, with one event parked behind it
  await pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id, blocking_event_id, blocking_change_log_id, releasable)
    select $1, 'order', g::text, md5(g::text)::uuid, g, false from generate_series(1, ${HELD}) g`, [observerId])
  await pool.query(`insert into "${schema}".tb_observer_retry (observer_id, event_id, change_log_id, action_index, event, attempt_number, due_at)
    select $1, md5(g::text)::uuid, g, 0, '{}', 2, now() + interval '1 hour' from generate_series(1, ${HELD}) g`, [observerId])
  await pool.query(`insert into "${schema}".tb_observer_parked (observer_id, entity_type, entity_id, event_id, change_log_id, event)
    select $1, 'order', g::text, md5('p' || g)::uuid, ${HELD} + g, '{}' from generate_series(1, ${HELD}) g`, [observerId])
  await pool.query(`analyze "${schema}".tb_observer_key; analyze "${schema}".tb_observer_retry; analyze "${schema}".tb_observer_parked`)

  t.same(await releasableKeys(db, schema, 100), [], 'every key is still blocked')
  await pool.query(`delete from "${schema}".tb_observer_retry where change_log_id = 777`)
  const released = await releasableKeys(db, schema, 100)
  t.same(released.map((k) => k.entity_id), ['777'], 'the key whose retry ended')

  const { sql: text, parameters } = releasableKeysQuery(schema, 100).compile(db)
  const { rows: [{ 'QUERY PLAN': [{ Plan: plan }] }] } = await pool.query(`explain (analyze, format json) ${text}`, parameters as unknown[])
  const keyScans = nodes(plan).filter((n) => n['Relation Name'] === 'tb_observer_key')
  t.ok(keyScans.length > 0 && keyScans.every((n) => n['Node Type'] !== 'Seq Scan'), `held keys read along an index: ${keyScans.map((n) => n['Node Type']).join(', ')}`)
  const examined = keyScans.reduce((sum, n) => sum + (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1), 0)
  t.ok(examined <= 10, `held keys examined: ${examined} of ${HELD}`)
})

t.test('a key stays releasable while events are parked behind it, and a new blocker holds it again', async (t) => {
  const { pool, schema } = await testPool(t, 2)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  await migrateToLatest(db, schema)
  const { rows: [{ id: observerId }] } = await pool.query<{ id: string }>(
    `insert into "${schema}".tb_observer (name, entity_type, actions, ordering, on_dead_letter) values ('o', 'order', '[{"type":"webhook","url":"http://127.0.0.1:9/"}]', 'entity', 'block') returning id`)
  const event = '00000000-0000-4000-8000-000000000001'
  await pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id, blocking_event_id, releasable) values ($1, 'order', 'k', $2, false)`, [observerId, event])
  await pool.query(`insert into "${schema}".tb_observer_dead_letter (observer_id, observer_name, event_id, entity_type, entity_id, event_type, action_index, action_type, event, error_code, error_message, attempts, first_failed_at, last_failed_at)
    values ($1, 'o', $2, 'order', 'k', 'UPDATE', 0, 'webhook', '{}', 'E', 'failed', 3, now(), now())`, [observerId, event])
  t.same(await releasableKeys(db, schema, 10), [], 'a dead letter of a blocking observer holds the key')
  await pool.query(`update "${schema}".tb_observer set on_dead_letter = 'skip' where id = $1`, [observerId])
  t.same((await releasableKeys(db, schema, 10)).map((k) => k.entity_id), ['k'], 'the observer now skips dead letters: the key moves on')
  t.same((await releasableKeys(db, schema, 10)).map((k) => k.entity_id), ['k'], 'and stays releasable until it is freed or blocked again')
  const retry = (attempt: number) => pool.query(`insert into "${schema}".tb_observer_retry (observer_id, event_id, action_index, event, attempt_number, due_at)
    values ($1, $2, 1, '{}', $3, now() + interval '1 hour')`, [observerId, event, attempt])
  await retry(2)
  t.same(await releasableKeys(db, schema, 10), [], 'a retry of its blocker is scheduled: held again')
  const client = await pool.connect()
  try {
    await client.query('begin')
    await client.query(`delete from "${schema}".tb_observer_retry where event_id = $1`, [event])
    await client.query(`insert into "${schema}".tb_observer_retry (observer_id, event_id, action_index, event, attempt_number, due_at)
      values ($1, $2, 1, '{}', 3, now() + interval '1 hour')`, [observerId, event])
    await client.query('commit')
  } finally { client.release() }
  t.same(await releasableKeys(db, schema, 10), [], 'the retry failed and was scheduled again in one transaction: still held')
  const { rows: [{ releasable }] } = await pool.query(`select releasable from "${schema}".tb_observer_key`)
  t.equal(releasable, false, 'and the round does not look at it')
  await pool.query(`delete from "${schema}".tb_observer_retry where event_id = $1`, [event])
  t.same((await releasableKeys(db, schema, 10)).map((k) => k.entity_id), ['k'], 'the retry succeeded: the key moves on')
})

t.test('a restart loads every held key, a page at a time', async (t) => {
  const { pool, schema } = await testPool(t, 2)
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  await migrateToLatest(db, schema)
  await pool.query(`insert into "${schema}".tb_observer_key (observer_id, entity_type, entity_id)
    select gen_random_uuid(), 'order', g::text from generate_series(1, 7) g`)
  const keys = await loadHeldKeys(db.withSchema(schema), 3)
  t.same(keys.map((k) => k.entity_id).sort(), ['1', '2', '3', '4', '5', '6', '7'])
})
