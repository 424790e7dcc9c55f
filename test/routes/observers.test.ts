import t from 'tap'
import { build, eventually } from '../helper.js'
import { insertChanges } from '../helpers/rows.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { INJECTIONS, call, createObserver, observerBody } from '../helpers/routes.js'

const MISSING = '00000000-0000-4000-8000-000000000000'

t.test('create answers 201 with the stored observer, secrets redacted; GET returns the same', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const res = await call(app, 'POST', '', {
    name: 'orders-hook',
    description: 'tell the warehouse',
    entity_type: 'orders',
    event_type: 'update',
    condition_expression: "status == 'paid'",
    actions: [{ type: 'webhook', url: 'http://127.0.0.1:9/hook', headers: { 'x-api-key': 'k-123' }, signing_secret: 'whsec_c2VjcmV0' }],
    priority: 5,
    retry_config: { max_attempts: 5, backoff_strategy: 'linear' },
    timeout_ms: 2000
  })
  t.equal(res.statusCode, 201)
  const created = res.json()
  t.match(created, {
    id: /^[0-9a-f-]{36}$/,
    name: 'orders-hook',
    event_type: 'UPDATE',
    enabled: true,
    priority: 5,
    retry_config: { max_attempts: 5, backoff_strategy: 'linear' },
    timeout_ms: 2000,
    tenant_id: null,
    created_by: null,
    updated_by: null,
    deleted_at: null,
    actions: [{ type: 'webhook', url: 'http://127.0.0.1:9/hook', headers: { 'x-api-key': '[redacted]' }, signing_secret: '[redacted]' }]
  })
  t.notMatch(res.body, /k-123|c2VjcmV0/, 'no secret in the response')
  t.ok(Date.parse(created.created_at) > 0)
  const got = await call(app, 'GET', `/${created.id}`)
  t.equal(got.statusCode, 200)
  t.same(got.json(), created)
  t.notMatch(got.body, /k-123|c2VjcmV0/)

  const defaults = (await call(app, 'POST', '', { name: 'minimal', actions: [{ type: 'log' }] })).json()
  t.match(defaults, { description: null, entity_type: null, event_type: null, condition_expression: null, enabled: true, priority: 100, retry_config: null, timeout_ms: 30000 })
})

t.test('invalid bodies are 400 naming the field; a taken name is 409', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ name: '' }, 'OBS_ERR_VALIDATION', /^body\/name must not have fewer than 1 characters$/],
    [{ colour: 'red' }, 'OBS_ERR_VALIDATION', /body\/colour is not an allowed property/],
    [{ actions: [] }, 'OBS_ERR_VALIDATION', /body\/actions must not have fewer than 1 items/],
    [{ priority: 1001 }, 'OBS_ERR_VALIDATION', /body\/priority must be <= 1000/],
    [{ timeout_ms: 0 }, 'OBS_ERR_VALIDATION', /body\/timeout_ms must be >= 1/],
    [{ event_type: 'upsert' }, 'OBS_ERR_VALIDATION', /body\/event_type must be one of INSERT, UPDATE, DELETE, CUSTOM/],
    [{ description: 42 }, 'OBS_ERR_VALIDATION', /body\/description must be string or null/],
    [{ retry_config: { max_attempts: 0 } }, 'OBS_ERR_VALIDATION', /body\/retry_config\/max_attempts must be >= 1/],
    [{ retry_config: { initial_delay_ms: 5000, max_delay_ms: 1000 } }, 'OBS_ERR_VALIDATION', /retry_config.max_delay_ms/],
    [{ condition_expression: "status == 'paid' &&" }, 'OBS_ERR_INVALID_CONDITION', /condition_expression: .* at position \d+/],
    [{ actions: [{ type: 'webhook', url: 'not a url' }] }, 'OBS_ERR_INVALID_ACTION', /^body\/actions\/0\/url: /],
    [{ actions: [{ type: 'log' }, { type: 'teleport' }] }, 'OBS_ERR_INVALID_ACTION', /^body\/actions\/1\/type: unknown action type 'teleport'/],
    [{ actions: [{ type: 'webhook', url: 'http://127.0.0.1:9/', signing_secret: '[redacted]' }] }, 'OBS_ERR_INVALID_ACTION', /body\/actions\/0\/signing_secret: is the redacted placeholder/]
  ]
  for (const [overrides, code, message] of cases) {
    const res = await call(app, 'POST', '', observerBody(overrides))
    t.equal(res.statusCode, 400, JSON.stringify(overrides))
    t.match(res.json(), { statusCode: 400, code, error: 'Bad Request', message }, JSON.stringify(overrides))
  }
  t.equal((await call(app, 'GET', '')).json().total_count, 0, 'nothing was saved')

  await createObserver(app, { name: 'taken' })
  const taken = await call(app, 'POST', '', observerBody({ name: 'taken' }))
  t.equal(taken.statusCode, 409)
  t.match(taken.json(), { code: 'OBS_ERR_NAME_TAKEN', message: /'taken'/ })
  t.equal((await call(app, 'POST', '', observerBody({ name: 'taken', tenant_id: 'acme' }))).statusCode, 201, 'names are unique per tenant')
})

t.test('GET one: 404 unknown or soft-deleted, 400 for a malformed id', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  t.match((await call(app, 'GET', `/${MISSING}`)).json(), { statusCode: 404, code: 'OBS_ERR_NOT_FOUND' })
  const bad = await call(app, 'GET', '/not-a-uuid')
  t.equal(bad.statusCode, 400)
  t.match(bad.json(), { code: 'OBS_ERR_INVALID_ID', message: /params\/id must be a UUID/ })
  const o = await createObserver(app)
  t.equal((await call(app, 'DELETE', `/${o.id}`)).statusCode, 204)
  t.equal((await call(app, 'GET', `/${o.id}`)).statusCode, 404)
})

t.test('list: ordered by priority then creation, disjoint pages with totals, filters', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const made = []
  for (let i = 0; i < 7; i++) {
    made.push(await createObserver(app, { name: `o${i}`, priority: i % 2 === 0 ? 10 : 5, entity_type: i < 3 ? 'orders' : 'users', event_type: i === 0 ? 'delete' : null, enabled: i !== 6 }))
  }
  const expected = [...made].sort((a, b) => a.priority - b.priority || Date.parse(a.created_at) - Date.parse(b.created_at)).map((o) => o.name)
  const p1 = (await call(app, 'GET', '?page=1&page_size=3')).json()
  const p2 = (await call(app, 'GET', '?page=2&page_size=3')).json()
  const p3 = (await call(app, 'GET', '?page=3&page_size=3')).json()
  t.match(p1, { page: 1, page_size: 3, total_count: 7, total_pages: 3 })
  t.same([...p1.data, ...p2.data, ...p3.data].map((o: any) => o.name), expected, 'pages are disjoint and in order')
  t.equal(p3.data.length, 1)
  t.match((await call(app, 'GET', '?page=4&page_size=3')).json(), { data: [], total_count: 7, total_pages: 3 }, 'past the end: empty, still counted')
  t.match((await call(app, 'GET', '?page=4&page_size=3&entity_type=orders')).json(), { data: [], total_count: 3 }, 'the filter applies to the count too')
  const all = (await call(app, 'GET', '')).json()
  t.match(all, { page: 1, page_size: 20, total_count: 7, total_pages: 1 })

  t.equal((await call(app, 'GET', '?entity_type=orders')).json().total_count, 3)
  t.same((await call(app, 'GET', '?event_type=DeLeTe')).json().data.map((o: any) => o.name), ['o0'], 'event_type in any case')
  t.same((await call(app, 'GET', '?enabled=false')).json().data.map((o: any) => o.name), ['o6'])
  await call(app, 'DELETE', `/${made[1].id}`)
  t.equal((await call(app, 'GET', '')).json().total_count, 6, 'soft-deleted are hidden')
  const withDeleted = (await call(app, 'GET', '?include_deleted=true')).json()
  t.equal(withDeleted.total_count, 7)
  t.ok(withDeleted.data.find((o: any) => o.name === 'o1').deleted_at !== null)

  for (const query of ['page=0', 'page_size=0', 'page_size=101', 'page=abc', 'enabled=maybe', 'event_type=upsert', 'sort=name']) {
    const res = await call(app, 'GET', `?${query}`)
    t.equal(res.statusCode, 400, query)
    t.match(res.json(), { code: 'OBS_ERR_VALIDATION', message: /^querystring/ }, query)
  }
})

t.test('SQL-injection strings in list filters match nothing and harm nothing', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await createObserver(app, { entity_type: 'orders' })
  for (const value of INJECTIONS) {
    const res = await call(app, 'GET', `?entity_type=${encodeURIComponent(value)}`)
    t.equal(res.statusCode, 200, value)
    t.same(res.json().data, [], value)
  }
  t.equal((await pool.query(`select count(*)::int as n from "${schema}".tb_observer`)).rows[0].n, 1, 'the table is intact')
})

t.test('PATCH changes only what it names; null clears nullable fields', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const o = await createObserver(app, {
    description: 'd',
    entity_type: 'orders',
    event_type: 'INSERT',
    condition_expression: 'total > 10',
    retry_config: { max_attempts: 4 },
    tenant_id: 'acme',
    priority: 7
  })
  const renamed = await call(app, 'PATCH', `/${o.id}`, { name: 'renamed', event_type: 'update' })
  t.equal(renamed.statusCode, 200)
  t.match(renamed.json(), { name: 'renamed', event_type: 'UPDATE', description: 'd', priority: 7, condition_expression: 'total > 10' })
  t.ok(Date.parse(renamed.json().updated_at) >= Date.parse(o.updated_at))

  const cleared = await call(app, 'PATCH', `/${o.id}`, {
    description: null, entity_type: null, event_type: null, condition_expression: null, retry_config: null, tenant_id: null
  })
  t.equal(cleared.statusCode, 200)
  t.match(cleared.json(), { description: null, entity_type: null, event_type: null, condition_expression: null, retry_config: null, tenant_id: null, name: 'renamed', priority: 7 })
  t.same((await call(app, 'GET', `/${o.id}`)).json(), cleared.json(), 'stored as served')

  const bad: Array<[unknown, RegExp, string?]> = [
    [{ name: null }, /body\/name must be string/],
    [{ enabled: null }, /body\/enabled must be boolean/],
    [{ owner: 'me' }, /body\/owner is not an allowed property/],
    [{}, /body must not have fewer than 1 properties/],
    [{ condition_expression: '(((' }, /at position/, 'OBS_ERR_INVALID_CONDITION'],
    [{ actions: [{ type: 'slack' }] }, /body\/actions\/0/, 'OBS_ERR_INVALID_ACTION']
  ]
  for (const [body, message, code] of bad) {
    const res = await call(app, 'PATCH', `/${o.id}`, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json(), { code: code ?? 'OBS_ERR_VALIDATION', message }, JSON.stringify(body))
  }
  await createObserver(app, { name: 'other' })
  const clash = await call(app, 'PATCH', `/${o.id}`, { name: 'other' })
  t.equal(clash.statusCode, 409)
  t.match(clash.json(), { code: 'OBS_ERR_NAME_TAKEN' })
  t.equal((await call(app, 'PATCH', `/${MISSING}`, { priority: 1 })).statusCode, 404)
  t.equal((await call(app, 'PATCH', '/123', { priority: 1 })).json().code, 'OBS_ERR_INVALID_ID')
  await call(app, 'DELETE', `/${o.id}`)
  t.equal((await call(app, 'PATCH', `/${o.id}`, { priority: 1 })).statusCode, 404, 'soft-deleted: 404')
})

t.test('a GET-then-PATCH round trip keeps the stored secrets (deliveries still carry them)', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  const o = await createObserver(app, {
    entity_type: 'orders',
    actions: [{ type: 'webhook', url: `${sink.url}/hook`, headers: { 'x-api-key': 'k-123' }, signing_secret: 'my-signing-secret' }]
  })
  const served = (await call(app, 'GET', `/${o.id}`)).json()
  t.equal(served.actions[0].headers['x-api-key'], '[redacted]')
  const patched = await call(app, 'PATCH', `/${o.id}`, { description: 'edited in a UI', actions: served.actions })
  t.equal(patched.statusCode, 200)
  const { rows } = await pool.query(`select actions from "${schema}".tb_observer where id = $1`, [o.id])
  t.same(rows[0].actions[0], { type: 'webhook', url: `${sink.url}/hook`, headers: { 'x-api-key': 'k-123' }, signing_secret: 'my-signing-secret' })

  await insertChanges(pool, schema, 1, 'orders')
  const [request] = await sink.waitFor(1)
  t.equal(request.headers['x-api-key'], 'k-123', 'the delivery carries the original secret')
  t.match(request.headers['webhook-signature'], /^v1,/)

  // a placeholder with nothing stored at its place cannot become a secret
  const orphan = await call(app, 'PATCH', `/${o.id}`, { actions: [{ ...served.actions[0], headers: { 'x-other': '[redacted]' } }] })
  t.equal(orphan.statusCode, 400)
  t.match(orphan.json(), { code: 'OBS_ERR_INVALID_ACTION', message: /body\/actions\/0\/headers\/x-other: is the redacted placeholder/ })
  const swapped = await call(app, 'PATCH', `/${o.id}`, { actions: [{ type: 'slack', webhook_url: '[redacted]' }] })
  t.equal(swapped.statusCode, 400, 'a placeholder in an action of another type has no stored value')
  // a new value replaces the secret
  t.equal((await call(app, 'PATCH', `/${o.id}`, { actions: [{ ...served.actions[0], headers: { 'x-api-key': 'k-456' } }] })).statusCode, 200)
  const after = await pool.query(`select actions from "${schema}".tb_observer where id = $1`, [o.id])
  t.same(after.rows[0].actions[0].headers, { 'x-api-key': 'k-456' })
  t.equal(after.rows[0].actions[0].signing_secret, 'my-signing-secret')
})

t.test('DELETE soft-deletes (204, then 404); the name is free again', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const o = await createObserver(app, { name: 'short-lived' })
  const res = await call(app, 'DELETE', `/${o.id}`)
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal((await call(app, 'DELETE', `/${o.id}`)).statusCode, 404)
  t.equal((await call(app, 'DELETE', `/${MISSING}`)).statusCode, 404)
  t.equal((await call(app, 'DELETE', '/x')).statusCode, 400)
  const { rows } = await pool.query(`select deleted_at from "${schema}".tb_observer where id = $1`, [o.id])
  t.ok(rows[0].deleted_at instanceof Date, 'the row stays, marked deleted')
  t.equal((await call(app, 'POST', '', observerBody({ name: 'short-lived' }))).statusCode, 201)
})

t.test('changes take effect for the next event: create, disable, enable, delete', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  const o = await createObserver(app, { entity_type: 'orders', actions: [{ type: 'webhook', url: `${sink.url}/a` }] })
  await insertChanges(pool, schema, 1, 'orders')
  await sink.waitFor(1)

  const disabled = await call(app, 'POST', `/${o.id}/disable`)
  t.equal(disabled.statusCode, 200)
  t.equal(disabled.json().enabled, false)
  await eventually(async () => (await app.observers.health()).observer_count === 0 || undefined, 5000, 'reload after disable')
  await insertChanges(pool, schema, 1, 'orders')
  // a second observer proves the event was read while the first was disabled
  const probe = await createObserver(app, { entity_type: 'orders', actions: [{ type: 'webhook', url: `${sink.url}/probe` }] })
  await insertChanges(pool, schema, 1, 'orders')
  await eventually(() => sink.received.some((r) => r.url === '/probe') || undefined, 5000, 'probe delivery')
  t.equal(sink.received.filter((r) => r.url === '/a').length, 1, 'nothing delivered while disabled')

  const enabled = await call(app, 'POST', `/${o.id}/enable`)
  t.equal(enabled.json().enabled, true)
  await eventually(async () => (await app.observers.health()).observer_count === 2 || undefined, 5000, 'reload after enable')
  await insertChanges(pool, schema, 1, 'orders')
  await eventually(() => sink.received.filter((r) => r.url === '/a').length === 2 || undefined, 5000, 'delivery after enable')

  t.equal((await call(app, 'DELETE', `/${probe.id}`)).statusCode, 204)
  t.equal((await call(app, 'POST', `/${probe.id}/enable`)).statusCode, 404, 'soft-deleted: 404')
  t.equal((await call(app, 'POST', `/${MISSING}/disable`)).statusCode, 404)
  t.equal((await call(app, 'POST', '/nope/disable')).json().code, 'OBS_ERR_INVALID_ID')
})

t.test('enabling an observer clears its disabled_reason; the field is read-only', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const created = await createObserver(app, { actions: [{ type: 'webhook', url: 'https://hooks.example.com/a' }] })
  t.equal(created.disabled_reason, null, 'null on a new observer')
  const reason = 'endpoint https://hooks.example.com disabled: its circuit stayed open'
  const disable = async (id: string): Promise<void> => {
    await pool.query(`update "${schema}".tb_observer set enabled = false, disabled_reason = $2 where id = $1`, [id, reason])
  }
  await disable(created.id)

  const renamed = await call(app, 'PATCH', `/${created.id}`, { description: 'still down' })
  t.match(renamed.json(), { enabled: false, disabled_reason: reason }, 'another change keeps the reason')
  const refused = await call(app, 'PATCH', `/${created.id}`, { disabled_reason: null })
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().message, 'body/disabled_reason is not an allowed property')
  t.equal((await call(app, 'POST', '', { name: 'x', actions: [{ type: 'log' }], disabled_reason: 'mine' })).statusCode, 400, 'nor accepted at create')

  const patched = await call(app, 'PATCH', `/${created.id}`, { enabled: true })
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), { enabled: true, disabled_reason: null })
  t.equal((await call(app, 'GET', `/${created.id}`)).json().disabled_reason, null)

  await disable(created.id)
  t.match((await call(app, 'POST', `/${created.id}/enable`)).json(), { enabled: true, disabled_reason: null }, 'POST /:id/enable clears it too')
  const listed = (await call(app, 'GET', '')).json().data
  t.match(listed, [{ id: created.id, disabled_reason: null }], 'the list serves the field')
})
