import t from 'tap'
import Fastify from 'fastify'
import { Kysely, PostgresDialect } from 'kysely'
import observerPlugin from '../../index.js'
import { build } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { insertChanges, insertObserver } from '../helpers/rows.js'

t.test('an event committed right after an observer is created is delivered to it, even without NOTIFY', async (t) => {
  const sink = await startHttpTarget(t)
  const { pool, schema } = await build(t, { runtime: { start: false } })
  // a caller's Kysely: the plugin has no raw connection to LISTEN on, so no reload is notified,
  // and the periodic reload is a minute away; only the version read with each batch can help
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) })
  const app = Fastify({ logger: false })
  t.teardown(async () => { await app.close() })
  await app.register(observerPlugin, { db, schema, auth: false, network: { allowPrivate: true }, runtime: { pollIntervalMs: 10 } })
  await app.ready()
  for (let round = 0; round < 5; round++) {
    await insertObserver(pool, schema, { name: `o-${round}`, entity_type: `kind-${round}`, actions: [{ type: 'webhook', url: sink.url }] })
    await insertChanges(pool, schema, 1, `kind-${round}`, () => ({ n: `e-${round}` }))
  }
  const received = await sink.waitFor(5)
  t.same(received.map((r) => r.json.entity_id).sort(), ['e-0', 'e-1', 'e-2', 'e-3', 'e-4'], 'every event reached the observer created just before it')
})
