import t from 'tap'
import { build } from '../helper.js'
import { countRows, insertChanges } from '../helpers/rows.js'
import { runRetention } from '../../lib/runtime/retention.js'

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
  const ctx = { options: app.observers.options, db: app.observers.db, log: app.log } as any
  const removed = await runRetention(ctx, new AbortController().signal)
  t.same(removed, { logs: 6, changes: 3 }, 'logs older than 14 days; old change-log rows at or before the checkpoint')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 4)
  const { rows } = await pool.query(`select pk_entity_change_log::text as id from "${schema}".tb_entity_change_log order by 1`)
  t.same(rows.map((r) => r.id), ids.slice(3), 'the unread old row and the recent ones stay')
})
