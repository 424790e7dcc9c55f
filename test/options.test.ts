import t from 'tap'
import pg from 'pg'
import { InvalidOptionError } from '../lib/errors.js'
import { resolveOptions, type ObserverPluginOptions } from '../lib/options.js'

const url = 'postgres://localhost/x'
const base: ObserverPluginOptions = { connectionString: url, auth: false }
const tokens = { tokens: ['a-token-of-16-chars+'] }

t.test('defaults match the SPEC', async (t) => {
  const o = resolveOptions(base)
  t.equal(o.schema, 'observer')
  t.equal(o.migrate, true)
  t.equal(o.prefix, '/observers')
  t.equal(o.routes, true)
  t.same(o.runtime, {
    pollIntervalMs: 100,
    batchSize: 100,
    channelCapacity: 1000,
    concurrency: 32,
    autoReload: true,
    reloadIntervalSecs: 60,
    listenerId: 'default',
    shutdownTimeoutMs: 10000,
    start: true,
    horizonStallMs: 1000,
    maxInFlightPerEndpoint: 8,
    circuitBreaker: { windowMs: 60_000, minAttempts: 10, failureRate: 0.7, coolDownMs: 30_000, maxCoolDownMs: 600_000, disableAfterMs: 3 * 24 * 3600_000 },
    partitions: 1,
    handoffDrainMs: 5000,
    partitionLeaseMs: 5000
  })
  t.same(o.retention, { logDays: 14, changeLogDays: 7, deadLetterDays: 30, requestPayloadDays: 3 })
  t.same(o.network, { allowPrivate: false })
  t.same(o.actions, {})
  t.equal(o.smtp, undefined)
  t.equal(o.tenant, undefined)
  t.equal(o.console, false, 'no console unless asked for')
  t.same(o.connection, { kind: 'url', url })
  t.ok(Object.isFrozen(o) && Object.isFrozen(o.runtime), 'resolved options are frozen')
})

t.test('every option accepts a good value', async (t) => {
  const pool = new pg.Pool({ connectionString: url })
  t.teardown(() => pool.end())
  const auth = (): boolean => true
  const tenant = (): string => 'acme'
  const custom = async (): Promise<void> => {}
  const o = resolveOptions({
    pool,
    schema: 'events_2',
    migrate: false,
    prefix: '/admin/observers/',
    routes: false,
    auth,
    runtime: { pollIntervalMs: 50, batchSize: 500, channelCapacity: 10, concurrency: 4, autoReload: false, reloadIntervalSecs: 5, listenerId: 'billing-1', shutdownTimeoutMs: 0, start: false, horizonStallMs: 200 },
    retention: { logDays: 0, changeLogDays: 1.5 },
    actions: { notify_crm: custom },
    smtp: { host: '127.0.0.1', port: 2525 },
    network: { allowPrivate: true },
    tenant
  })
  t.equal(o.connection.kind, 'pool')
  t.equal(o.schema, 'events_2')
  t.equal(o.prefix, '/admin/observers', 'a trailing slash is dropped')
  t.equal(o.auth, auth)
  t.equal(o.tenant, tenant)
  t.equal(o.actions.notify_crm, custom)
  t.equal(o.runtime.listenerId, 'billing-1')
  t.equal(o.runtime.start, false)
  t.same(o.smtp, { host: '127.0.0.1', port: 2525 })
  t.equal(o.network.allowPrivate, true)
  t.same(resolveOptions({ connectionString: url, auth: tokens }).auth, tokens)
})

t.test('a Kysely instance is accepted as db', async (t) => {
  const { Kysely, PostgresDialect } = await import('kysely')
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) })
  t.teardown(() => db.destroy())
  t.equal(resolveOptions({ db, auth: false }).connection.kind, 'db')
})

const bad: Array<[string, unknown, RegExp]> = [
  ['no connection', { auth: false }, /'connectionString' \| 'pool' \| 'db': one is required/],
  ['two connections', { connectionString: url, db: {}, auth: false }, /give only one/],
  ['pool not a pool', { pool: {}, auth: false }, /'pool': must be a pg.Pool/],
  ['db not a Kysely', { db: { query () {} }, auth: false }, /'db': must be a Kysely instance/],
  ['auth missing', { connectionString: url }, /'auth': required/],
  ['auth true', { connectionString: url, auth: true }, /'auth': must be/],
  ['auth empty tokens', { connectionString: url, auth: { tokens: [] } }, /'auth': must be/],
  ['auth short token', { connectionString: url, auth: { tokens: ['short'] } }, /'auth': must be/],
  ['schema with a quote', { ...base, schema: 'a"b' }, /'schema':/],
  ['migrate not boolean', { ...base, migrate: 'yes' }, /'migrate':/],
  ['prefix without slash', { ...base, prefix: 'observers' }, /'prefix':/],
  ['routes not boolean', { ...base, routes: 1 }, /'routes':/],
  ['pollIntervalMs zero', { ...base, runtime: { pollIntervalMs: 0 } }, /'runtime.pollIntervalMs':/],
  ['batchSize string', { ...base, runtime: { batchSize: '100' } }, /'runtime.batchSize':/],
  ['channelCapacity negative', { ...base, runtime: { channelCapacity: -1 } }, /'runtime.channelCapacity':/],
  ['concurrency fractional', { ...base, runtime: { concurrency: 1.5 } }, /'runtime.concurrency':/],
  ['autoReload string', { ...base, runtime: { autoReload: 'no' } }, /'runtime.autoReload':/],
  ['reloadIntervalSecs zero', { ...base, runtime: { reloadIntervalSecs: 0 } }, /'runtime.reloadIntervalSecs':/],
  ['listenerId with space', { ...base, runtime: { listenerId: 'a b' } }, /'runtime.listenerId':/],
  ['shutdownTimeoutMs negative', { ...base, runtime: { shutdownTimeoutMs: -5 } }, /'runtime.shutdownTimeoutMs':/],
  ['start string', { ...base, runtime: { start: 'false' } }, /'runtime.start':/],
  ['horizonStallMs too small', { ...base, runtime: { horizonStallMs: 1 } }, /'runtime.horizonStallMs':/],
  ['unknown runtime option', { ...base, runtime: { pollInterval: 5 } }, /'runtime.pollInterval': unknown option/],
  ['retention negative', { ...base, retention: { logDays: -1 } }, /'retention.logDays':/],
  ['actions not functions', { ...base, actions: { crm: 'x' } }, /'actions.crm':/],
  ['actions bad name', { ...base, actions: { 'Bad Name': async () => {} } }, /'actions/],
  ['smtp not an object', { ...base, smtp: 'smtp://x' }, /'smtp':/],
  ['allowPrivate string', { ...base, network: { allowPrivate: 'true' } }, /'network.allowPrivate':/],
  ['tenant not a function', { ...base, tenant: 'acme' }, /'tenant':/],
  ['unknown option', { ...base, retries: 3 }, /'retries': unknown option/],
  ['console a string', { ...base, console: 'yes' }, /'console':/],
  ['console access not a function', { ...base, console: { access: 'read' } }, /'console/],
  ['circuit breaker not false or an object', { ...base, runtime: { circuitBreaker: true } }, /'runtime.circuitBreaker': must be false/],
  ['circuit breaker field out of range', { ...base, runtime: { circuitBreaker: { failureRate: 2 } } }, /'runtime.circuitBreaker.failureRate': must be <= 1/],
  ['unknown circuit breaker field', { ...base, runtime: { circuitBreaker: { threshold: 2 } } }, /'runtime.circuitBreaker.threshold': unknown option/]
]

for (const [name, input, message] of bad) {
  t.test(`refused: ${name}`, async (t) => {
    t.throws(() => resolveOptions(input as ObserverPluginOptions), InvalidOptionError)
    t.throws(() => resolveOptions(input as ObserverPluginOptions), { code: 'OBS_ERR_INVALID_OPTION', message })
  })
}

t.test('the console: true signs in with a token, { access } leaves it to the host', async (t) => {
  t.same(resolveOptions({ ...base, console: true }).console, { access: undefined })
  const access = (): 'read' => 'read'
  t.equal((resolveOptions({ ...base, console: { access } }).console as { access: unknown }).access, access)
  t.equal(resolveOptions({ ...base, console: false }).console, false)
})

t.test('the circuit breaker: false turns it off, a partial object keeps the other defaults', async (t) => {
  t.equal(resolveOptions({ ...base, runtime: { circuitBreaker: false } }).runtime.circuitBreaker, false)
  const breaker = resolveOptions({ ...base, runtime: { circuitBreaker: { coolDownMs: 200 } } }).runtime.circuitBreaker
  t.match(breaker, { coolDownMs: 200, windowMs: 60_000, minAttempts: 10, failureRate: 0.7 })
})
