import t from 'tap'
import { readFile } from 'node:fs/promises'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges } from '../helpers/rows.js'
import { call, createObserver } from '../helpers/routes.js'

const README = new URL('../../README.md', import.meta.url)

const reasonFor = (endpoint: string): string => `endpoint ${endpoint} disabled: its circuit stayed open`

async function endpointsOf (app: FastifyInstance): Promise<any[]> {
  const res = await call(app, 'GET', '/endpoints')
  if (res.statusCode !== 200) throw new Error(`GET /endpoints answered ${res.statusCode} ${res.body}`)
  return res.json().data
}

async function endpointOf (app: FastifyInstance, endpoint: string): Promise<any> {
  return (await endpointsOf(app)).find((e) => e.endpoint === endpoint)
}

t.test('an observer\'s endpoint is listed closed, with the strictest rate limit and the observers sending there', async (t) => {
  const { app } = await build(t)
  const target = await startHttpTarget(t)
  const a = await createObserver(app, { actions: [{ type: 'webhook', url: `${target.url}/a`, rate_limit: { per_second: 20, burst: 4 } }] })
  const b = await createObserver(app, { actions: [{ type: 'webhook', url: `${target.url}/b?x=1`, rate_limit: { per_second: 50 } }, { type: 'log' }] })
  const other = await createObserver(app, { actions: [{ type: 'webhook', url: 'http://127.0.0.2:9/hook' }] })

  // served by its own route: /endpoints is not taken for an observer id (which would be a 400 invalid id)
  const all = await eventually(async () => {
    const data = await endpointsOf(app)
    return data.reduce((n, e) => n + e.observers.length, 0) === 3 ? data : undefined
  }, 10_000, 'the three observers loaded')
  const listed = all.find((e) => e.endpoint === target.url)
  t.same({ ...listed, observers: [...listed.observers].sort() }, {
    endpoint: target.url,
    state: 'closed',
    attempts_window: 0,
    failures_window: 0,
    opened_at: null,
    next_probe_at: null,
    paused_until: null,
    in_flight: 0,
    waiting: 0,
    rate_limit: { per_second: 20, burst: 1 },
    observers: [a.id, b.id].sort()
  }, 'the fewest per second and the smallest burst (1 when an action gives none) win')
  t.match(all.find((e) => e.endpoint === 'http://127.0.0.2:9'), { state: 'closed', rate_limit: null, observers: [other.id] })
  t.same(all.map((e) => e.endpoint), [target.url, 'http://127.0.0.2:9'].sort(), 'one entry per origin, sorted')
})

t.test('an open circuit is listed with what waits for it; reset closes it and what waited goes out at once', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { circuitBreaker: { minAttempts: 2, coolDownMs: 60_000 } } })
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(503).end('down') })
  const observer = await createObserver(app, {
    entity_type: 'order',
    actions: [{ type: 'webhook', url: `${target.url}/hook` }],
    retry_config: { max_attempts: 10, initial_delay_ms: 10, max_delay_ms: 20, jitter: false }
  })
  await eventually(async () => (await endpointOf(app, target.url))?.observers.length === 1, 10_000, 'the observer loaded')
  await insertChanges(pool, schema, 3)

  // the circuit opens after two failures; then every delivery waits for the probe, a minute away
  const open = await eventually(async () => {
    const found = await endpointOf(app, target.url)
    return found?.state === 'open' && found.waiting === 3 ? found : undefined
  }, 15_000, 'the circuit open with three deliveries waiting')
  // and every one of them has been put off until then (none still claimed, on its way to being put off)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_retry',
    "claimed_until is null and due_at > now() + interval '30 seconds'") === 3, 10_000, 'the deliveries put off until the probe')
  t.match(open, { state: 'open', opened_at: String, next_probe_at: String, paused_until: null, waiting: 3, observers: [observer.id] })
  t.ok(Date.parse(open.next_probe_at) - Date.now() > 30_000, 'the probe is a cool-down away')
  // the listing can lag the circuit by a moment: under load it once showed 1 failure of 1 attempt
  // while 3 had failed and the database had all 3 a moment later (cause not found)
  const counted = await eventually(async () => {
    const found = await endpointOf(app, target.url)
    return found !== undefined && found.failures_window >= 2 && found.attempts_window >= 2 ? found : undefined
  }, 10_000, 'the failures that opened it in the window')
  t.ok(counted.failures_window >= 2, `the failures that opened it are in the window (${counted.failures_window} of ${counted.attempts_window})`)
  const sent = target.received.length
  t.ok(sent >= 2, `${sent} requests before it opened`)
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0, 'nothing dead-lettered')

  target.respond = (_req, res) => { res.writeHead(200).end('ok') }
  const reset = await call(app, 'POST', '/endpoints/reset', { endpoint: target.url })
  t.equal(reset.statusCode, 200)
  t.same(reset.json(), { endpoint: target.url, closed: true })
  t.match(await endpointOf(app, target.url), { state: 'closed', opened_at: null, next_probe_at: null })

  // due now, not in a minute: the retry worker sleeps at most a second
  const started = Date.now()
  await target.waitFor(sent + 3, 10_000)
  t.ok(Date.now() - started < 10_000, 'the waiting deliveries went out at once')
  const ids = new Set(target.received.slice(sent).map((r) => r.json.event_id))
  t.equal(ids.size, 3, 'each waiting delivery went out')
  await eventually(async () => (await endpointOf(app, target.url))?.waiting === 0, 10_000, 'nothing waiting')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 0)
  const again = await call(app, 'POST', '/endpoints/reset', { endpoint: target.url })
  t.same(again.json(), { endpoint: target.url, closed: false }, 'a closed circuit stays closed')

  // the state changes were announced in the change log, where the README's alert observer picks them up
  const { rows } = await pool.query(`select pk_entity_change_log::text as id, object_id, object_data from "${schema}".tb_entity_change_log
    where object_type = 'observers.endpoint' order by pk_entity_change_log`)
  t.same(rows.map((r) => [r.object_id, r.object_data.state, r.object_data.observers]), [[target.url, 'opened', [observer.id]], [target.url, 'closed', [observer.id]]])
  const alert = await readmeAlertObserver()
  const opened = await call(app, 'POST', '/test', { observer: alert, change_log_id: rows[0].id })
  t.match(opened.json(), { matches: true, reason: null, condition: true }, 'the README\'s observer matches the opened event')
  t.match(opened.json().actions[0].request.body.text, `Endpoint ${target.url}: opened (observers ["${observer.id}"])`)
  const closed = await call(app, 'POST', '/test', { observer: alert, change_log_id: rows[1].id })
  t.match(closed.json(), { matches: false, reason: 'condition' }, 'and not the closed one')
})

t.test('reset with enable_observers enables the observers the endpoint\'s disabling disabled, and only those', async (t) => {
  const { app, pool, schema } = await build(t)
  const endpoint = 'https://hooks.example.com'
  const victim = await createObserver(app, { actions: [{ type: 'webhook', url: `${endpoint}/orders` }] })
  const elsewhere = await createObserver(app, { actions: [{ type: 'webhook', url: 'https://other.example.com/hook' }] })
  const byHand = await createObserver(app, { actions: [{ type: 'webhook', url: `${endpoint}/audit` }], enabled: false })
  // as the runtime leaves them when the endpoint stayed open too long (lib/db/endpoints.repo.ts disableEndpoints)
  await pool.query(`insert into "${schema}".tb_observer_endpoint (endpoint, state, opened_at, next_probe_at, cool_down_ms)
    values ($1, 'disabled', now() - interval '4 days', now() - interval '1 hour', 600000), ('https://other.example.com', 'disabled', now() - interval '4 days', null, 600000)`, [endpoint])
  await pool.query(`update "${schema}".tb_observer set enabled = false, disabled_reason = $2 where id = $1`, [victim.id, reasonFor(endpoint)])
  await pool.query(`update "${schema}".tb_observer set enabled = false, disabled_reason = $2 where id = $1`, [elsewhere.id, reasonFor('https://other.example.com')])
  await call(app, 'POST', '/runtime/reload')

  t.match((await call(app, 'GET', `/${victim.id}`)).json(), { enabled: false, disabled_reason: reasonFor(endpoint) }, 'the observer says why it is disabled')
  t.match(await endpointOf(app, endpoint), { state: 'disabled', observers: [] })

  const plain = await call(app, 'POST', '/endpoints/reset', { endpoint })
  t.same(plain.json(), { endpoint, closed: true })
  t.match(await endpointOf(app, endpoint), { state: 'closed' })
  t.match((await call(app, 'GET', `/${victim.id}`)).json(), { enabled: false, disabled_reason: reasonFor(endpoint) }, 'without enable_observers they stay disabled')

  const enabling = await call(app, 'POST', '/endpoints/reset', { endpoint: 'https://Hooks.Example.com:443', enable_observers: true })
  t.equal(enabling.statusCode, 200)
  t.same(enabling.json(), { endpoint, closed: false }, 'the endpoint is normalised to its origin; already closed')
  t.match((await call(app, 'GET', `/${victim.id}`)).json(), { enabled: true, disabled_reason: null })
  t.match((await call(app, 'GET', `/${elsewhere.id}`)).json(), { enabled: false, disabled_reason: reasonFor('https://other.example.com') }, 'another endpoint\'s observers stay disabled')
  t.match((await call(app, 'GET', `/${byHand.id}`)).json(), { enabled: false, disabled_reason: null }, 'an observer disabled by hand stays disabled')
  await eventually(async () => (await endpointOf(app, endpoint))?.observers.includes(victim.id), 10_000, 'the enabled observer loaded again')
})

t.test('reset refuses what is not an http(s) origin nor a NATS server set with a 400 naming the field', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const origin = 'must be an http(s) origin: scheme://host[:port], with no path, query or trailing slash (e.g. https://hooks.example.com), ' +
    'or a NATS server set (nats://host:4222,nats://host2:4222)'
  for (const endpoint of [
    'hooks.example.com', 'ftp://hooks.example.com', 'https://hooks.example.com/', 'https://hooks.example.com/hook',
    'https://hooks.example.com?x=1', 'https://user:pw@hooks.example.com', 'https://hooks.example.com:99999', 'http://999.0.0.1', 'https:// x', '',
    'nats://a.example.com:4222,ftp://b.example.com', 'nats://user:pw@a.example.com', 'nats://a.example.com/subject', 'nats://a.example.com:99999'
  ]) {
    const res = await call(app, 'POST', '/endpoints/reset', { endpoint })
    t.equal(res.statusCode, 400, endpoint)
    t.same(res.json(), { statusCode: 400, code: 'OBS_ERR_VALIDATION', error: 'Bad Request', message: `body/endpoint ${origin}` }, endpoint)
  }
  const cases: Array<[unknown, string]> = [
    [{}, 'body/endpoint is required'],
    [{ endpoint: 'https://a.example.com', enable_observers: 'yes' }, 'body/enable_observers must be boolean'],
    [{ endpoint: 'https://a.example.com', observers: [] }, 'body/observers is not an allowed property']
  ]
  for (const [body, message] of cases) {
    const res = await call(app, 'POST', '/endpoints/reset', body)
    t.equal(res.statusCode, 400, message)
    t.match(res.json(), { code: 'OBS_ERR_VALIDATION', message })
  }
  for (const endpoint of ['http://10.0.0.5:8080', 'https://[2001:db8::1]:8443', 'https://hooks.example.com']) {
    t.same((await call(app, 'POST', '/endpoints/reset', { endpoint })).json(), { endpoint, closed: false }, `${endpoint} is an origin`)
  }
  t.same((await call(app, 'POST', '/endpoints/reset', { endpoint: 'nats://B.example.com,nats://a.example.com:4222' })).json(),
    { endpoint: 'nats://a.example.com:4222,nats://b.example.com:4222', closed: false }, 'a NATS server set is normalised: sorted, lower-case, default port')
})

t.test('both routes are instance-wide: refused to a tenant, open to the global tenant; both need the token', async (t) => {
  const tenant = (request: FastifyRequest): string | null => {
    const value = request.headers['x-tenant']
    return typeof value === 'string' ? value : null
  }
  const { app } = await build(t, { tenant, runtime: { start: false } })
  const acme = { 'x-tenant': 'acme' }
  for (const [method, url, body] of [['GET', '/endpoints'], ['POST', '/endpoints/reset', { endpoint: 'https://hooks.example.com' }]] as const) {
    const refused = await call(app, method, url, body, acme)
    t.equal(refused.statusCode, 403, `${method} ${url} as a tenant`)
    t.match(refused.json(), { code: 'OBS_ERR_FORBIDDEN', message: /affects every tenant/ })
    t.equal((await call(app, method, url, body)).statusCode, 200, `${method} ${url} as the global tenant`)
    const anonymous = await app.inject({ method, url: `/observers${url}`, ...(body === undefined ? {} : { payload: body }) })
    t.equal(anonymous.statusCode, 401, `${method} ${url} without a token`)
    t.equal(anonymous.json().code, 'OBS_ERR_UNAUTHORIZED')
  }
})

/** The alert observer of the README's "Endpoint protection" section, between its markers. */
async function readmeAlertObserver (): Promise<Record<string, unknown>> {
  const text = await readFile(README, 'utf8')
  const block = /<!-- endpoint-alert-observer:start -->([\s\S]*?)<!-- endpoint-alert-observer:end -->/.exec(text)
  if (block === null) throw new Error('README.md has no endpoint-alert-observer block')
  const json = /<<'JSON'\n([\s\S]*?)\nJSON\n/.exec(block[1])
  if (json === null) throw new Error('the README block has no JSON here-document')
  return JSON.parse(json[1])
}

t.test('the README\'s alert observer is created as it is written', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const body = await readmeAlertObserver()
  const res = await call(app, 'POST', '', body)
  t.equal(res.statusCode, 201, res.body)
  t.match(res.json(), { entity_type: 'observers.endpoint', event_type: 'CUSTOM', enabled: true, actions: [{ type: 'slack' }] })
  const dry = await call(app, 'POST', '/test', {
    observer_id: res.json().id,
    event: { event_type: 'CUSTOM', entity_type: 'observers.endpoint', entity_id: 'https://hooks.example.com', data: { endpoint: 'https://hooks.example.com', state: 'disabled', observers: [] } }
  })
  t.match(dry.json(), { matches: true, actions: [{ type: 'slack', request: { body: { text: /^Endpoint https:\/\/hooks\.example\.com: disabled / } } }] })
})
