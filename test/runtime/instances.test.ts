import t from 'tap'
import pg from 'pg'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { insertChanges, insertObserver } from '../helpers/rows.js'
import { getDatabaseUrl } from '../helpers/pg.js'
import { kill9, startRuntimeProcess } from '../helpers/processes.js'

t.test('two instances, one listener: 1000 events each delivered exactly once', async (t) => {
  const sink = await startHttpTarget(t)
  const a = await build(t)
  const b = await build(t, {}, { pool: a.pool, schema: a.schema })
  await insertObserver(a.pool, a.schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await eventually(async () => {
    const [ha, hb] = await Promise.all([a.app.observers.health(), b.app.observers.health()])
    return ha.reading !== hb.reading || undefined
  }, 10_000, 'one reader')
  for (let i = 0; i < 10; i++) await insertChanges(a.pool, a.schema, 100, 'order', (k) => ({ n: i * 100 + k }))
  await eventually(() => new Set(sink.received.map((r) => r.json.event_id)).size === 1000 || undefined, 30_000, '1000 events')
  const [ha, hb] = await Promise.all([a.app.observers.health(), b.app.observers.health()])
  t.equal([ha.reading, hb.reading].filter(Boolean).length, 1, 'exactly one instance holds the lease')
  t.equal(sink.received.length, 1000, 'no event delivered twice')
})

t.test('when the lease holder is killed, another instance takes over', async (t) => {
  const sink = await startHttpTarget(t)
  const url = await getDatabaseUrl()
  const { pool, schema } = await build(t, { runtime: { start: false } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  const holder = await startRuntimeProcess(t, url, schema)
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'first' }))
  await sink.waitFor(1)
  // the second instance starts while the first holds the lease
  const standby = await build(t, {}, { pool, schema })
  t.equal((await standby.app.observers.health()).reading, false, 'the standby does not read while the holder lives')
  await kill9(holder)
  const killedAt = Date.now()
  await eventually(async () => (await standby.app.observers.health()).reading || undefined, 10_000, 'takeover within 10 s')
  t.comment(`takeover after ${Date.now() - killedAt} ms`)
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'second' }))
  await sink.waitFor(2)
  t.same(sink.received.map((r) => r.json.entity_id), ['first', 'second'], 'the standby continues where the holder stopped')
})

t.test('an observer created on instance A is used by instance B for the very next event', async (t) => {
  const sink = await startHttpTarget(t)
  const reader = await build(t)
  const api = await build(t, { runtime: { start: false } }, { pool: reader.pool, schema: reader.schema })
  await eventually(async () => (await reader.app.observers.health()).reading || undefined)
  // created through A's repository (no runtime there); B hears the NOTIFY and reloads
  await insertObserver(api.pool, api.schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await eventually(async () => (await reader.app.observers.health()).observer_count === 1 || undefined, 5_000, 'B reloaded')
  await insertChanges(reader.pool, reader.schema, 1)
  const [delivered] = await sink.waitFor(1)
  t.equal(delivered.json.entity_id, '0', 'B delivered the next event to the new observer without a manual reload')
  await api.pool.query(`update "${api.schema}".tb_observer set enabled = false`)
  await eventually(async () => (await reader.app.observers.health()).observer_count === 0 || undefined, 5_000, 'B saw the disable')
})

t.test('when the lease connection is killed, the runtime reconnects, takes the lease again and keeps delivering', async (t) => {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t)
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await eventually(async () => (await app.observers.health()).reading || undefined)
  // the lease: a two-key advisory lock on (hashtext(schema), hashtext(listener id))
  const leaseHolder = async (): Promise<number | undefined> => (await pool.query(
    `select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 2
        and classid::bigint = hashtext($1)::bigint & 4294967295 and objid::bigint = hashtext('default')::bigint & 4294967295`, [schema])).rows[0]?.pid
  const before = await leaseHolder()
  t.type(before, 'number', 'the lease is held by a connection')
  await pool.query('select pg_terminate_backend($1)', [before])
  const after = await eventually(async () => {
    const pid = await leaseHolder()
    return pid !== undefined && pid !== before ? pid : undefined
  }, 10_000, 'the lease taken again on a new connection')
  t.not(after, before)
  t.equal((await app.observers.health()).reading, true)
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'after-reconnect' }))
  const [req] = await sink.waitFor(1)
  t.equal(req.json.entity_id, 'after-reconnect')
})

t.test('an instance without the lease tries to take it at most every 100 ms, however often events commit', async (t) => {
  const sink = await startHttpTarget(t)
  const a = await build(t)
  await eventually(async () => (await a.app.observers.health()).reading || undefined, 10_000, 'A reads')
  const b = await build(t, {}, { pool: a.pool, schema: a.schema })
  await insertObserver(a.pool, a.schema, { actions: [{ type: 'webhook', url: sink.url }] })
  // every try of the lease on this schema (A holds it and tries no more): B's
  let tries = 0
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (typeof args[0] === 'string' && args[0].includes('pg_try_advisory_lock') && (args[1] as unknown[] | undefined)?.[0] === a.schema) tries++
    return (query as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof query
  t.teardown(() => { pg.Client.prototype.query = query })
  const started = Date.now()
  // 100 commits, each with its NOTIFY
  for (let i = 0; i < 100; i++) await insertChanges(a.pool, a.schema, 1, 'order', () => ({ n: i }))
  await sink.waitFor(100)
  const elapsed = Date.now() - started
  t.ok(tries <= Math.ceil(elapsed / 100) + 1, `${tries} tries of the lease in ${elapsed} ms of 100 commits`)
  t.equal((await b.app.observers.health()).reading, false, 'B stays the standby')
})
