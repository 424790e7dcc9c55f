// A backfill keeps pace with the reader: it writes a chunk once the reader has read the one before,
// so a live change is read behind at most a chunk or two of READ rows, not behind the whole table.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { build, eventually } from '../../helper.js'
import { getDatabaseUrl, uniqueSchema, watchStatements } from '../../helpers/pg.js'
import { call } from '../../helpers/routes.js'

/** A captured table of `rows` rows, and the id of its backfill in chunks of `chunk`. */
async function startBackfill (t: Test, app: FastifyInstance, pool: pg.Pool, schema: string, rows: number, chunk: number): Promise<string> {
  await pool.query(`create table "${schema}".items (id integer primary key, v integer not null)`)
  await pool.query(`insert into "${schema}".items select g, 0 from generate_series(1, ${rows}) g`)
  t.equal((await call(app, 'POST', '/captures', { schema, table: 'items' })).statusCode, 201)
  const res = await call(app, 'POST', `/captures/${schema}/items/backfill`, { chunk_size: chunk })
  t.equal(res.statusCode, 202)
  return res.json().job_id
}

t.test('a backfill never runs far ahead of the reader: the live stream stays a chunk or two behind it', async (t) => {
  // a slow reader (2 rows a batch) and a quick backfill (100 rows a chunk): unpaced, the READ rows
  // pile up thousands deep in front of every live change
  const { app, pool, schema } = await build(t, { runtime: { batchSize: 2 } })
  const N = 5_000
  const CHUNK = 100
  const id = await startBackfill(t, app, pool, schema, N, CHUNK)
  let deepest = 0
  let status = 'queued'
  while (status !== 'done' && status !== 'failed') {
    const { rows: [{ unread }] } = await pool.query(`
      select count(*)::int as unread from "${schema}".tb_entity_change_log l, "${schema}".observer_checkpoints c
       where c.listener_id = 'default' and (l.txid, l.pk_entity_change_log) > (c.last_txid, c.last_change_log_id)`)
    deepest = Math.max(deepest, unread)
    status = (await call(app, 'GET', `/jobs/${id}`)).json().status
  }
  t.equal(status, 'done')
  // the reader may lag one chunk being read and one being written; 10 chunks leaves room for a slow machine
  t.ok(deepest <= 10 * CHUNK, `the reader was never more than 10 chunks behind (at most ${deepest} rows unread)`)
  t.ok(deepest > 0, 'and it did read while the backfill ran')
})

t.test('paced by a reader in the same process, a backfill asks the database nothing to know where the reader is', async (t) => {
  // every statement that asks whether the reader has passed a chunk, counted
  const pool = new pg.Pool({ connectionString: await getDatabaseUrl(), max: 10 })
  const schema = uniqueSchema()
  t.teardown(async () => {
    await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => {})
    await pool.end()
  })
  let asked = 0
  watchStatements(pool, (text) => { if (text.includes('"observer_checkpoints" c') && text.includes('not exists')) asked++ })
  const { app } = await build(t, {}, { pool, schema })
  await eventually(async () => (await app.observers.health()).reading || undefined, 10_000, 'the lease held')
  const N = 1_000
  const id = await startBackfill(t, app, pool, schema, N, 50)
  const job = await eventually(async () => {
    const view = (await call(app, 'GET', `/jobs/${id}`)).json()
    return view.status === 'done' || view.status === 'failed' ? view : undefined
  }, 60_000, 'the backfill ended')
  t.match(job, { status: 'done', done: N })
  // each of the 20 chunks after the first waited for the reader to pass the one before it
  const { rows: [{ read }] } = await pool.query(`select count(*)::int as read from "${schema}".tb_entity_change_log l, "${schema}".observer_checkpoints c
    where c.listener_id = 'default' and (l.txid, l.pk_entity_change_log) <= (c.last_txid, c.last_change_log_id)`)
  t.equal(read, N, 'the reader read every READ row')
  t.equal(asked, 0, 'no statement asked where the reader was')
})
