import t from 'tap'
import type { FastifyRequest } from 'fastify'
import { build } from '../helper.js'
import { call, createObserver, observerBody } from '../helpers/routes.js'

const tenant = (request: FastifyRequest): string | null => {
  const value = request.headers['x-tenant']
  return typeof value === 'string' ? value : null
}
const A = { 'x-tenant': 'acme' }
const B = { 'x-tenant': 'globex' }

t.test('a tenant reads its own and the global observers, changes only its own', async (t) => {
  const { app, pool, schema } = await build(t, { tenant, runtime: { start: false } })
  const mine = await createObserver(app, { name: 'mine', tenant_id: 'globex' }, A)
  t.equal(mine.tenant_id, 'acme', 'tenant_id in the body is forced to the request\'s tenant')
  t.equal(mine.created_by, 'acme')
  const theirs = await createObserver(app, { name: 'theirs' }, B)
  const global = await createObserver(app, { name: 'global', tenant_id: 'acme' })
  t.equal(global.tenant_id, null, 'a request without a tenant works on global observers')

  t.same((await call(app, 'GET', '', undefined, A)).json().data.map((o: any) => o.name).sort(), ['global', 'mine'])
  t.same((await call(app, 'GET', '', undefined, B)).json().data.map((o: any) => o.name).sort(), ['global', 'theirs'])
  t.same((await call(app, 'GET', '')).json().data.map((o: any) => o.name), ['global'], 'the global tenant sees only global observers')

  // another tenant's observer does not exist for this one
  t.equal((await call(app, 'GET', `/${theirs.id}`, undefined, A)).statusCode, 404)
  t.equal((await call(app, 'PATCH', `/${theirs.id}`, { description: 'mine now' }, A)).statusCode, 404)
  t.equal((await call(app, 'POST', `/${theirs.id}/disable`, undefined, A)).statusCode, 404)
  t.equal((await call(app, 'DELETE', `/${theirs.id}`, undefined, A)).statusCode, 404)
  const row = (await pool.query(`select description, enabled, deleted_at from "${schema}".tb_observer where id = $1`, [theirs.id])).rows[0]
  t.same(row, { description: null, enabled: true, deleted_at: null }, 'untouched')

  // a global observer is visible but read-only
  t.equal((await call(app, 'GET', `/${global.id}`, undefined, A)).statusCode, 200)
  for (const [method, url, body] of [['PATCH', `/${global.id}`, { priority: 1 }], ['DELETE', `/${global.id}`], ['POST', `/${global.id}/disable`]] as const) {
    const res = await call(app, method, url, body, A)
    t.equal(res.statusCode, 403, `${method} ${url}`)
    t.match(res.json(), { code: 'OBS_ERR_FORBIDDEN', message: /read-only/ })
  }

  const patched = await call(app, 'PATCH', `/${mine.id}`, { description: 'ok', tenant_id: 'globex' }, A)
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), { description: 'ok', tenant_id: 'acme', updated_by: 'acme' }, 'a tenant cannot move its observer away')
  t.equal((await call(app, 'DELETE', `/${mine.id}`, undefined, A)).statusCode, 204)

  // names are unique within a tenant only
  t.equal((await call(app, 'POST', '', observerBody({ name: 'theirs' }), A)).statusCode, 201)
  t.equal((await call(app, 'POST', '', observerBody({ name: 'theirs' }), B)).statusCode, 409)
})

t.test('history, dead letters, the change log and instance-wide operations are confined too', async (t) => {
  const { app, pool, schema } = await build(t, { tenant, runtime: { start: false } })
  const mine = await createObserver(app, { name: 'mine' }, A)
  const theirs = await createObserver(app, { name: 'theirs' }, B)
  const global = await createObserver(app, { name: 'global' })
  await pool.query(`insert into "${schema}".tb_observer_log (observer_id, event_id, entity_type, entity_id, event_type, action_index, action_type, status, attempt_number, max_attempts, started_at)
    select o, gen_random_uuid(), 'orders', '1', 'INSERT', 0, 'log', 'success', 1, 1, now() from unnest($1::uuid[]) o`, [[mine.id, theirs.id, global.id]])
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data, tenant_id)
    values ('orders', '1', 'INSERT', '{}', 'acme'), ('orders', '2', 'INSERT', '{}', 'globex')`)

  t.same((await call(app, 'GET', '/logs', undefined, A)).json().data.map((l: any) => l.observer_id), [mine.id], 'only the attempts of its own observers')
  t.equal((await call(app, 'GET', `/${mine.id}/logs`, undefined, A)).json().data.length, 1)
  t.equal((await call(app, 'GET', `/${theirs.id}/logs`, undefined, A)).statusCode, 404)
  t.match((await call(app, 'GET', `/${global.id}/logs`, undefined, A)).json(), { statusCode: 403, code: 'OBS_ERR_FORBIDDEN' })
  t.same((await call(app, 'GET', '/stats', undefined, A)).json().data.map((s: any) => s.name), ['mine'])
  t.equal((await call(app, 'GET', `/${theirs.id}/stats`, undefined, A)).statusCode, 404)
  t.equal((await call(app, 'GET', `/${global.id}/stats`, undefined, A)).statusCode, 403)
  t.equal((await call(app, 'GET', `/${global.id}/stats`)).statusCode, 200, 'the global tenant owns the global observers')

  const log = (await call(app, 'GET', '/changelog', undefined, A)).json()
  t.same(log.entries.map((e: any) => e.object_id), ['1'], 'only its own change-log rows')
  const dry = await call(app, 'POST', '/test', { observer_id: theirs.id, event: { event_type: 'INSERT', entity_type: 'orders' } }, A)
  t.equal(dry.statusCode, 404, 'cannot dry-run another tenant\'s observer')
  const other = (await call(app, 'GET', '/changelog', undefined, B)).json().entries[0].id
  t.equal((await call(app, 'POST', '/test', { observer_id: mine.id, change_log_id: other }, A)).statusCode, 404, 'nor on its events')

  for (const [method, url, body] of [
    ['PUT', '/checkpoint/default', { after_cursor: '0' }],
    ['POST', '/captures', { table: 'anything' }],
    ['DELETE', '/captures/public/anything']
  ] as const) {
    const res = await call(app, method, url, body, A)
    t.equal(res.statusCode, 403, `${method} ${url}`)
    t.match(res.json(), { code: 'OBS_ERR_FORBIDDEN', message: /every tenant/ })
  }
  t.equal((await call(app, 'PUT', '/checkpoint/default', { after_cursor: '0' })).statusCode, 200, 'the global tenant may')
})
