// Change-log rows an application wrote that cannot be events: each is dead-lettered as a whole with
// a clear code, the events around it are delivered, and the reader never stalls on it. Once the
// row is fixed, retrying its dead letter delivers it.
import t from 'tap'
import { AUTH, build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertObserver } from '../helpers/rows.js'

t.test('unreadable rows are dead-lettered, their neighbours delivered; a fixed row is delivered by a retry', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { name: 'all', actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  const longKey = 'k'.repeat(2100)
  const { rows } = await pool.query<{ id: string, code: string }>(`
    insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    values ('order', 'before', 'INSERT', '{"n": 1}'),
           ('order', 'scalar', 'INSERT', '5'),
           ('order', 'array', 'UPDATE', '[1, 2]'),
           ('order', 'truncated', 'TRUNCATE', '{}'),
           ('order', $1, 'INSERT', '{}'),
           ('order', 'after', 'INSERT', '{"n": 2}')
    returning pk_entity_change_log::text as id, object_id as code`, [longKey])
  await sink.waitFor(2)
  t.same(sink.received.map((r) => r.json.entity_id), ['before', 'after'], 'the readable rows around them are delivered, in order')
  const health = await eventually(async () => { const h = await app.observers.health(); return h.dead_letters === 4 ? h : undefined }, 10_000, 'four dead letters')
  t.ok(health.errors >= 4, 'each one is counted and logged as an error')
  t.equal((await pool.query(`select last_change_log_id::text as id from "${schema}".observer_checkpoints`)).rows[0].id, rows[5].id, 'the checkpoint moved past them')

  const list = await app.inject({ url: '/observers/dlq?limit=10', headers: AUTH })
  t.equal(list.statusCode, 200)
  const items = list.json().data as Array<Record<string, unknown>>
  const byEntity = new Map(items.map((item) => [String(item.entity_id).slice(0, 20), item]))
  t.match(byEntity.get('scalar'), { observer_id: null, observer_name: null, action_index: null, action_type: null, error_code: 'INVALID_DATA', error_message: /object_data of change-log row \d+ is a number, not a JSON object/, attempts: 1, change_log_id: rows[1].id })
  t.match(byEntity.get('array'), { error_code: 'INVALID_DATA', error_message: /is an array/ })
  t.match(byEntity.get('truncated'), { error_code: 'UNKNOWN_MODIFICATION_TYPE', event_type: 'TRUNCATE' })
  t.match(byEntity.get(longKey.slice(0, 20)), { error_code: 'ENTITY_KEY_TOO_LONG' })
  const detail = await app.inject({ url: `/observers/dlq/${String(byEntity.get('truncated')?.id)}`, headers: AUTH })
  t.match(detail.json().event, { modification_type: 'TRUNCATE', object_id: 'truncated' }, 'the detail shows the row as written')

  // still unreadable: failed again, one more attempt, still listed
  const stillBroken = byEntity.get('scalar')?.id as string
  const again = await app.inject({ method: 'POST', url: `/observers/dlq/${stillBroken}/retry`, headers: AUTH })
  t.match(again.json(), { id: stillBroken, status: 'failed', error_message: /not a JSON object/ })
  t.match((await app.inject({ url: `/observers/dlq/${stillBroken}`, headers: AUTH })).json(), { attempts: 2, error_code: 'INVALID_DATA' })

  // fixed by the application: the retry reads it, delivers it, and the dead letter is gone
  await pool.query(`update "${schema}".tb_entity_change_log set modification_type = 'DELETE', object_data_before = '{"n": 3}' where object_id = 'truncated'`)
  const fixedId = byEntity.get('truncated')?.id as string
  const fixed = await app.inject({ method: 'POST', url: `/observers/dlq/${fixedId}/retry`, headers: AUTH })
  t.same(fixed.json(), { id: fixedId, status: 'delivered' })
  const [, , third] = await sink.waitFor(3)
  t.match(third.json, { entity_id: 'truncated', event_type: 'DELETE', data: { n: 3 } })
  t.equal((await app.inject({ url: `/observers/dlq/${fixedId}`, headers: AUTH })).statusCode, 404)
  t.equal(await countRows(pool, schema, 'tb_observer_log', "entity_id = 'truncated' and status = 'success'"), 1, 'the delivery is logged')
})

t.test('the same unreadable row read again after a crash is dead-lettered once', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type) values ('order', 'x', 'MERGE')`)
  await app.observers.start()
  await eventually(async () => await countRows(pool, schema, 'tb_observer_dead_letter') === 1 || undefined)
  await app.observers.stop()
  // replay from the start, as after a crash before the checkpoint moved
  await app.inject({ method: 'PUT', url: '/observers/checkpoint/default', headers: AUTH, payload: { after_cursor: '0' } })
  await app.observers.start()
  await eventually(async () => (await app.observers.health()).events_processed === 1 || undefined)
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 1)
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter', 'attempts = 1'), 1)
})
