// A backfill chunk's transaction (lib/db/backfill.repo.ts): from the moment it takes its transaction
// id until it commits, the reader cannot read past it, so every live change committed meanwhile
// waits. That window holds the chunk's own statement and nothing else; an older transaction still
// running keeps it from writing.
import { Kysely, PostgresDialect } from 'kysely'
import t from 'tap'
import { writeReadChunk, type BackfillTarget } from '../../lib/db/backfill.repo.js'
import type { Database } from '../../lib/db/types.js'
import { build } from '../helper.js'

t.test('after taking its id, a chunk runs one statement; an older open transaction makes it busy', async (t) => {
  const { pool, schema } = await build(t, { runtime: { start: false } })
  await pool.query(`create table "${schema}".items (id integer primary key, v integer not null)`)
  await pool.query(`insert into "${schema}".items select g, 0 from generate_series(1, 20) g`)
  const statements: string[] = []
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: (event) => { statements.push(event.query.sql) } })
  const target: BackfillTarget = { schema, table: 'items', key: 'id', key_type: 'integer', id_column: 'id', entity_type: 'items', filters: [] }

  const written = await db.transaction().execute(async (trx) => await writeReadChunk(trx, schema, target, null, 10, 1000))
  t.match(written, { last: '10', count: 10, through: { txid: /^[0-9]+$/, id: /^[0-9]+$/ } })
  const id = statements.findIndex((s) => s.includes('pg_current_xact_id'))
  t.ok(id >= 0, 'the chunk takes its transaction id')
  const window = statements.slice(id + 1).filter((s) => !/^(commit|rollback)$/.test(s))
  t.equal(window.length, 1, 'one statement between the id and the commit')
  t.match(window[0], /insert into/, 'and it is the chunk itself')

  // an older transaction with an id, still open: the chunk writes nothing and says busy
  const older = await pool.connect()
  t.teardown(() => { older.release() })
  await older.query('begin')
  await older.query('select pg_current_xact_id()')
  const busy = await db.transaction().execute(async (trx) => await writeReadChunk(trx, schema, target, '10', 10, 100))
  t.equal(busy, 'busy')
  await older.query('commit')
  const { rows: [{ n }] } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log where modification_type = 'READ'`)
  t.equal(n, 10, 'only the first chunk was written')
  const rest = await db.transaction().execute(async (trx) => await writeReadChunk(trx, schema, target, '10', 10, 1000))
  t.match(rest, { last: '20', count: 10 })
})
