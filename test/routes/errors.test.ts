import t from 'tap'
import observerPlugin from '../../index.js'
import { bareApp, build, TOKEN } from '../helper.js'
import { call, observerBody, type Method } from '../helpers/routes.js'

const ID = '00000000-0000-4000-8000-000000000000'
const SECURED: Array<[Method, string, unknown?]> = [
  ['GET', ''], ['POST', '', observerBody()], ['GET', `/${ID}`], ['PATCH', `/${ID}`, { priority: 1 }], ['DELETE', `/${ID}`],
  ['POST', `/${ID}/enable`], ['POST', `/${ID}/disable`], ['GET', '/stats'], ['GET', `/${ID}/stats`], ['GET', '/logs'], ['GET', `/${ID}/logs`],
  ['POST', '/test', {}], ['POST', '/runtime/reload'], ['GET', '/delivery/health'], ['GET', '/dlq'], ['GET', '/dlq/stats'], ['GET', `/dlq/${ID}`],
  ['DELETE', `/dlq/${ID}`], ['POST', `/dlq/${ID}/retry`], ['POST', '/dlq/retry-all', {}], ['GET', '/changelog'], ['GET', '/checkpoint/default'],
  ['PUT', '/checkpoint/default', { after_cursor: '0' }], ['GET', '/captures'], ['POST', '/captures', { table: 't' }],
  ['DELETE', '/captures/public/t'], ['GET', '/metrics']
]

t.test('every route but health needs the token: none or a wrong one is 401', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  for (const [method, url, payload] of SECURED) {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789abcdef' }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await app.inject({ method, url: `/observers${url}`, headers, ...(payload === undefined ? {} : { payload: payload as object }) })
      t.equal(res.statusCode, 401, `${method} ${url} ${JSON.stringify(headers)}`)
      t.match(res.json(), { statusCode: 401, code: 'OBS_ERR_UNAUTHORIZED', error: 'Unauthorized' })
      t.equal(res.headers['www-authenticate'], 'Bearer')
    }
  }
  t.equal((await pool.query(`select count(*)::int as n from "${schema}".observer_checkpoints`)).rows[0].n, 0, 'a refused PUT changed nothing')
  const health = await app.inject({ url: '/observers/runtime/health' })
  t.equal(health.statusCode, 503, 'health needs no token (503: this runtime is not started)')
  t.equal((await call(app, 'POST', '/runtime/reload')).statusCode, 200, 'the right token passes')
})

t.test('an auth function decides per request', async (t) => {
  const { app } = await build(t, { auth: (request) => request.headers['x-role'] === 'admin', runtime: { start: false } })
  t.equal((await app.inject({ url: '/observers', headers: { 'x-role': 'guest' } })).statusCode, 401)
  t.equal((await app.inject({ url: '/observers', headers: { 'x-role': 'admin' } })).statusCode, 200)
})

t.test('request errors have stable codes: 413, bad JSON, unsupported media type, unknown route', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const big = await call(app, 'POST', '', JSON.stringify(observerBody({ description: 'x'.repeat(1024 * 1024) })), { 'content-type': 'application/json' })
  t.equal(big.statusCode, 413)
  t.match(big.json(), { statusCode: 413, code: 'OBS_ERR_BODY_TOO_LARGE', message: /1048576 bytes/ })
  const broken = await call(app, 'POST', '', '{"name": "x",', { 'content-type': 'application/json' })
  t.equal(broken.statusCode, 400)
  t.match(broken.json(), { code: 'OBS_ERR_INVALID_JSON' })
  const empty = await call(app, 'POST', '', '', { 'content-type': 'application/json' })
  t.equal(empty.statusCode, 400)
  t.match(empty.json(), { code: 'OBS_ERR_BAD_REQUEST' })
  const xml = await call(app, 'POST', '', '<observer/>', { 'content-type': 'application/xml' })
  t.equal(xml.statusCode, 415)
  t.match(xml.json(), { code: 'OBS_ERR_UNSUPPORTED_MEDIA_TYPE' })
  const truncated = await call(app, 'POST', '/dlq/retry-all', '{}', { 'content-type': 'application/json', 'content-length': '50' })
  t.equal(truncated.statusCode, 400)
  t.match(truncated.json(), { code: 'OBS_ERR_BAD_REQUEST', message: /Content-Length/ })
  const unknown = await call(app, 'GET', '/no/such/route')
  t.equal(unknown.statusCode, 404)
  t.match(unknown.json(), { statusCode: 404, code: 'OBS_ERR_ROUTE_NOT_FOUND', message: 'no route GET /observers/no/such/route' })
})

t.test('a 5xx never shows SQL or a stack', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`drop table "${schema}".tb_observer_log`)
  const res = await call(app, 'GET', '/logs')
  t.equal(res.statusCode, 500)
  t.match(res.json(), { statusCode: 500, code: 'OBS_ERR_INTERNAL', error: 'Internal Server Error', message: /request id/ })
  t.notMatch(res.body, /tb_observer_log|select|relation|at \w+ \(/i)
})

t.test('the host application keeps its own validation and 404s', async (t) => {
  const { app, pool, schema } = await bareApp(t, 4)
  app.post('/host', {
    schema: { body: { type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: false } }
  }, async (request) => request.body)
  await app.register(observerPlugin, { pool, schema, auth: { tokens: [TOKEN] }, runtime: { start: false } })
  const host = await app.inject({ method: 'POST', url: '/host', payload: { a: '1', extra: true } })
  t.same(host.json(), { a: 1 }, 'the host\'s Ajv still coerces and removes unknown fields')
  const missing = await app.inject({ url: '/elsewhere' })
  t.equal(missing.statusCode, 404)
  t.notOk(missing.json().code?.startsWith('OBS_ERR'), 'the host\'s 404 is its own')
})
