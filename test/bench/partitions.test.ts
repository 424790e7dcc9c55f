// The scale-out bench waits for every partition's checkpoint to reach its last row: a head read
// wrong ends (or never ends) a measured window at the wrong moment.
import t from 'tap'
import { Kysely, PostgresDialect } from 'kysely'
import type { RuntimeCode } from '../../bench/code.js'
import { atHeads, partitionHeads } from '../../bench/partitions.js'
import { migrateToLatest } from '../../lib/db/migrate.js'
import { partitionOf } from '../../lib/db/partitions.repo.js'
import { testPool } from '../helpers/pg.js'

t.test("a partition's head is its last row in commit order, when transaction ids gain a digit", async (t) => {
  const { pool, schema } = await testPool(t, 2)
  await migrateToLatest(new Kysely<any>({ dialect: new PostgresDialect({ pool }) }), schema)
  // one key, so one partition: a row of transaction 999, then one of transaction 1000
  await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data, txid)
    values ('order', '1', 'INSERT', '{}', '999'), ('order', '1', 'UPDATE', '{}', '1000')`)
  const { rows: [last] } = await pool.query<{ id: string }>(`select max(pk_entity_change_log)::text as id from "${schema}".tb_entity_change_log`)
  const heads = await partitionHeads(pool, { partitionOf } as unknown as RuntimeCode, schema, 8)
  t.same([...heads.values()], [{ txid: '1000', id: last.id }])
  const atFirst = new Map([...heads.keys()].map((p) => [p, { txid: '999', id: String(Number(last.id) - 1) }]))
  t.notOk(atHeads(atFirst, heads), 'a checkpoint at the first row is not at the head')
})
