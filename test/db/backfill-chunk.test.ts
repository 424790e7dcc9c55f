// A backfill chunk (lib/db/backfill.repo.ts): from the moment it takes its transaction id until it
// commits, the reader cannot read past it, so every live change committed meanwhile waits. The id,
// the wait for older transactions, the chunk, the job's progress and the commit are one statement:
// no round trip to the runtime's process in that window.
import { Kysely, PostgresDialect } from 'kysely'
import t, { type Test } from 'tap'
import { writeReadChunk, type BackfillTarget } from '../../lib/db/backfill.repo.js'
import type { Database } from '../../lib/db/types.js'
import { build, eventually } from '../helper.js'
import { chunkRunningSeconds } from '../helpers/backfill.js'

async function setup (t: Test): Promise<{ pool: import('pg').Pool, schema: string, db: Kysely<Database>, statements: string[], target: BackfillTarget, job: { pk: string, token: string, leaseMs: number } }> {
  const { pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`create table "${schema}".items (id integer primary key, v integer not null)`)
  await pool.query(`insert into "${schema}".items select g, 0 from generate_series(1, 30) g`)
  const { rows: [row] } = await pool.query<{ pk: string, token: string }>(`insert into "${schema}".tb_observer_job (kind, status, params, cursor, claimed_by)
    values ('backfill', 'running', '{}', '{"after": null}', gen_random_uuid()) returning pk_observer_job::text as pk, claimed_by::text as token`)
  const statements: string[] = []
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: (event) => { statements.push(event.query.sql) } })
  const target: BackfillTarget = { schema, table: 'items', key: 'id', key_type: 'integer', id_column: 'id', entity_type: 'items', filters: [] }
  return { pool, schema, db, statements, target, job: { ...row, leaseMs: 10_000 } }
}

const readRows = async (pool: import('pg').Pool, schema: string): Promise<Array<{ object_id: string, v: number }>> =>
  (await pool.query(`select object_id, (object_data ->> 'v')::int as v from "${schema}".tb_entity_change_log where modification_type = 'READ' order by pk_entity_change_log`)).rows

t.test('a chunk is one statement: its id, the chunk and the job\'s progress commit together', async (t) => {
  const { pool, schema, db, statements, target, job } = await setup(t)
  const written = await writeReadChunk(db, schema, target, job, { after: null, through: null }, 10, 1000)
  t.match(written, { status: 'running', last: '10', count: 10, through: { txid: /^[0-9]+$/, id: /^[0-9]+$/ } })
  t.equal(statements.length, 1, 'one statement')
  t.notMatch(statements[0], /^\s*begin/i, 'outside a transaction block: it commits as it ends')
  const { rows: [progress] } = await pool.query(`select cursor, done::int as done from "${schema}".tb_observer_job where pk_observer_job = $1`, [job.pk])
  t.same(progress, { cursor: { after: '10', through: (written as { through: unknown }).through }, done: 10 }, 'the cursor moved with the rows')
  t.equal((await readRows(pool, schema)).length, 10)
})

t.test('an older open transaction: the chunk waits for it, then reads what it wrote; one that stays open makes it busy', async (t) => {
  const { pool, schema, db, target, job } = await setup(t)
  const older = await pool.connect()
  t.teardown(() => { older.release() })
  await older.query('begin')
  await older.query(`update "${schema}".items set v = 7 where id = 5`)
  t.equal(await writeReadChunk(db, schema, target, job, { after: null, through: null }, 10, 100), 'busy', 'busy while it stays open')
  t.equal((await readRows(pool, schema)).length, 0, 'nothing written')

  // it ends while the chunk waits: the chunk's own snapshot, taken after the wait, sees its write
  const writing = writeReadChunk(db, schema, target, job, { after: null, through: null }, 10, 5000)
  await eventually(async () => await chunkRunningSeconds(pool, schema) > 0, 10_000, 'the chunk waiting')
  await older.query('commit')
  t.match(await writing, { count: 10 })
  t.same((await readRows(pool, schema)).find((r) => r.object_id === '5'), { object_id: '5', v: 7 })
})

t.test('a claim that passed to another instance: nothing of the chunk is written', async (t) => {
  const { pool, schema, db, target, job } = await setup(t)
  await pool.query(`update "${schema}".tb_observer_job set claimed_by = gen_random_uuid()`)
  t.equal(await writeReadChunk(db, schema, target, job, { after: null, through: null }, 10, 1000), 'lost')
  t.equal((await readRows(pool, schema)).length, 0)
  const { rows: [progress] } = await pool.query(`select cursor, done::int as done from "${schema}".tb_observer_job`)
  t.same(progress, { cursor: { after: null }, done: 0 }, 'the cursor did not move')
})

t.test('filters and the cursor are bound, whatever their text', async (t) => {
  const { pool, schema, db, target, job } = await setup(t)
  await pool.query(`alter table "${schema}".items add column "na$1me" text`)
  await pool.query(`update "${schema}".items set "na$1me" = case when id % 2 = 0 then 'even''s' else '$1[1]' end`)
  const filtered: BackfillTarget = { ...target, filters: [{ column: 'na$1me', op: 'in', value: ['even\'s', 'none'], type: 'text' }, { column: 'id', op: '<=', value: 12, type: 'integer' }] }
  t.match(await writeReadChunk(db, schema, filtered, job, { after: '2', through: null }, 100, 1000), { last: '12', count: 5 })
  t.same((await readRows(pool, schema)).map((r) => r.object_id), ['4', '6', '8', '10', '12'])
})

t.test('a row being written by a transaction newer than the chunk: the chunk lets go at once, never waits for the writer', async (t) => {
  const { pool, schema, db, target, job } = await setup(t)
  const [older, newer] = [await pool.connect(), await pool.connect()]
  t.teardown(() => { older.release(); newer.release() })
  await older.query('begin')
  await older.query('select pg_current_xact_id()')
  // the chunk takes its id and waits for the older transaction
  const writing = writeReadChunk(db, schema, target, job, { after: null, through: null }, 10, 10_000)
  await eventually(async () => await chunkRunningSeconds(pool, schema) > 0, 10_000, 'the chunk waiting')
  // a live writer, newer than the chunk, takes a row of it and stays open
  await newer.query('begin')
  await newer.query(`update "${schema}".items set v = 9 where id = 5`)
  await older.query('commit')
  t.equal(await writing, 'busy')
  t.equal((await readRows(pool, schema)).length, 0, 'nothing written')
  await newer.query('commit')
  t.match(await writeReadChunk(db, schema, target, job, { after: null, through: null }, 10, 1000), { count: 10 })
  t.same((await readRows(pool, schema)).find((r) => r.object_id === '5'), { object_id: '5', v: 9 })
})

t.test('a chunk waits seconds for an older transaction without its pauses growing past bounds', async (t) => {
  const { pool, schema, db, target, job } = await setup(t)
  const older = await pool.connect()
  t.teardown(() => { older.release() })
  await older.query('begin')
  await older.query('select pg_current_xact_id()')
  const writing = writeReadChunk(db, schema, target, job, { after: null, through: null }, 10, 20_000)
  // over a thousand checks: pauses that doubled without a bound overflowed here
  await eventually(async () => await chunkRunningSeconds(pool, schema) >= 6, 20_000, 'the chunk waiting 6 s')
  await older.query('commit')
  t.match(await writing, { count: 10 })
})
