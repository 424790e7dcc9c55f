import t from 'tap'
import { build } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { call, createObserver, observerBody } from '../helpers/routes.js'

const event = { event_type: 'update', entity_type: 'orders', entity_id: '42', data: { id: 42, status: 'paid', total: 120 }, before: { id: 42, status: 'new', total: 120 } }

t.test('the dry run renders a signed webhook, secrets redacted, and sends nothing', async (t) => {
  const target = await startHttpTarget(t)
  const { app } = await build(t)
  const observer = observerBody({
    name: 'paid-orders',
    entity_type: 'orders',
    event_type: 'UPDATE',
    condition_expression: "field_changed_to('status', 'paid') && total > 100",
    actions: [
      { type: 'webhook', url: `${target.url}/hook`, headers: { 'x-api-key': 'k-123' }, signing_secret: 'whsec_c2VjcmV0LXNpZ25pbmcta2V5' },
      { type: 'log', message_template: 'order {{ entity_id }} is {{ data.status }}' }
    ]
  })
  const res = await call(app, 'POST', '/test', { observer, event })
  t.equal(res.statusCode, 200)
  const result = res.json()
  t.match(result, { matches: true, reason: null, condition: true })
  const [hook, log] = result.actions
  t.match(hook, { index: 0, type: 'webhook', request: { method: 'POST', url: `${target.url}/hook` } })
  t.match(hook.request.headers, {
    'content-type': 'application/json',
    'x-api-key': '[redacted]',
    'webhook-signature': '[redacted]',
    'webhook-id': /^msg_/,
    'webhook-timestamp': /^\d+$/
  })
  t.equal(hook.request.headers['idempotency-key'], hook.request.headers['webhook-id'])
  t.match(hook.request.body, {
    event_type: 'UPDATE',
    entity_type: 'orders',
    entity_id: '42',
    data: { status: 'paid' },
    before: { status: 'new' },
    changes: { status: { old: 'new', new: 'paid' } },
    observer: { name: 'paid-orders' }
  })
  t.equal(log.index, 1)
  t.match(JSON.stringify(log.request), /order 42 is paid/)
  t.notMatch(res.body, /k-123|c2VjcmV0/, 'no secret anywhere')
  t.equal(target.received.length, 0, 'the target received no request')
  t.equal(target.connections(), 0, 'not even a connection')
  t.equal((await call(app, 'GET', '')).json().total_count, 0, 'an unsaved observer stays unsaved')
})

t.test('the dry run says which rule fails', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const cases: Array<[Record<string, unknown>, Record<string, unknown>, string, boolean | null]> = [
    [{ enabled: false }, {}, 'disabled', null],
    [{ event_type: 'DELETE' }, {}, 'event_type', null],
    [{ entity_type: 'users' }, {}, 'entity_type', null],
    [{ tenant_id: 'acme' }, { tenant_id: 'globex' }, 'tenant', null],
    [{ condition_expression: 'total > 500' }, {}, 'condition', false]
  ]
  for (const [observer, eventOverrides, reason, condition] of cases) {
    const res = await call(app, 'POST', '/test', { observer: observerBody(observer), event: { ...event, ...eventOverrides } })
    t.equal(res.statusCode, 200, reason)
    t.match(res.json(), { matches: false, reason, condition }, reason)
    t.equal(res.json().actions.length, 1, 'the actions are rendered anyway')
  }
  const star = await call(app, 'POST', '/test', { observer: observerBody({ entity_type: '*' }), event })
  t.match(star.json(), { matches: true, reason: null, condition: true })
})

t.test('a saved observer and a change-log row can stand in for the bodies', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const saved = await createObserver(app, { entity_type: 'orders', condition_expression: "field_changed('status')" })
  const { rows } = await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data, object_data_before)
    values ('orders', '7', 'UPDATE', '{"status": "paid"}', '{"status": "new"}'), ('orders', '8', 'UPDATE', '{"status": "new"}', '{"status": "new"}')
    returning pk_entity_change_log::text as id`)
  const changed = await call(app, 'POST', '/test', { observer_id: saved.id, change_log_id: rows[0].id })
  t.equal(changed.statusCode, 200)
  t.match(changed.json(), { matches: true, condition: true, actions: [{ index: 0, type: 'log' }] })
  t.match((await call(app, 'POST', '/test', { observer_id: saved.id, change_log_id: rows[1].id })).json(), { matches: false, reason: 'condition', condition: false })
  t.match((await call(app, 'POST', '/test', { observer_id: saved.id, change_log_id: Number(rows[0].id) })).json(), { matches: true, condition: true }, 'an integer id is taken as well')
  t.match((await call(app, 'POST', '/test', { observer_id: saved.id, event })).json(), { matches: true })
})

t.test('dry-run errors: 400 for an invalid or ambiguous body, 404 for unknown ids', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const saved = await createObserver(app)
  const bad: Array<[unknown, RegExp, string?]> = [
    [{ event }, /exactly one of observer, observer_id/],
    [{ observer: observerBody(), observer_id: saved.id, event }, /exactly one of observer, observer_id/],
    [{ observer_id: saved.id }, /exactly one of event, change_log_id/],
    [{ observer_id: saved.id, event, change_log_id: '1' }, /exactly one of event, change_log_id/],
    [{ observer_id: saved.id, event: { ...event, event_id: 'mine' } }, /body\/event\/event_id is not an allowed property/],
    [{ observer_id: saved.id, event: { ...event, event_type: 'merge' } }, /body\/event\/event_type must be one of/],
    [{ observer_id: saved.id, change_log_id: 'last' }, /body\/change_log_id/],
    [{ observer: observerBody({ condition_expression: 'a ==' }), event }, /at position/, 'OBS_ERR_INVALID_CONDITION'],
    [{ observer: observerBody({ actions: [{ type: 'webhook' }] }), event }, /body\/actions\/0/, 'OBS_ERR_INVALID_ACTION'],
    [{ observer_id: 'abc', event }, /body\/observer_id must be a UUID/, 'OBS_ERR_INVALID_ID']
  ]
  for (const [body, message, code] of bad) {
    const res = await call(app, 'POST', '/test', body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json(), { code: code ?? 'OBS_ERR_VALIDATION', message }, JSON.stringify(body))
  }
  t.match((await call(app, 'POST', '/test', { observer_id: '00000000-0000-4000-8000-000000000000', event })).json(), { statusCode: 404, message: /observer not found/ })
  t.match((await call(app, 'POST', '/test', { observer_id: saved.id, change_log_id: '999999' })).json(), { statusCode: 404, message: /change-log row not found/ })
})

t.test('an action whose type is no longer registered: fully redacted when served, not rendered', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  // saved while a custom action 'ghost' was configured; this app has no such action
  const { rows } = await pool.query(`insert into "${schema}".tb_observer (name, actions) values ('haunted', $1) returning id`,
    [JSON.stringify([{ type: 'ghost', endpoint: 'https://example.com', token: 't-1' }])])
  const served = await call(app, 'GET', `/${rows[0].id}`)
  t.same(served.json().actions, [{ type: 'ghost', endpoint: '[redacted]', token: '[redacted]' }], 'nothing is known to be safe to show')
  const res = await call(app, 'POST', '/test', { observer_id: rows[0].id, event })
  t.equal(res.statusCode, 200)
  t.match(res.json().actions, [{ index: 0, type: 'ghost', request: null, error: /unknown action type 'ghost'/ }])
  t.notMatch(res.body, /t-1/)
})

t.test('a change-log row of an unknown kind cannot be dry-run', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const saved = await createObserver(app)
  const { rows } = await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
    values ('orders', '1', 'MERGE', '{}') returning pk_entity_change_log::text as id`)
  const res = await call(app, 'POST', '/test', { observer_id: saved.id, change_log_id: rows[0].id })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'OBS_ERR_VALIDATION', message: /change_log_id: unknown modification_type 'MERGE'/ })
})
