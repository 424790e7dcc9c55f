// A partition's reader under a re-split (lib/runtime/read-path/reading.ts): it reads the rows of the
// transactions before the barrier, however they commit, then moves to the barrier and stops there.
import t from 'tap'
import { build, eventually } from '../../helper.js'
import { partitionOf, recordPartitions } from '../../../lib/db/partitions.repo.js'
import { listenerState, requestResplit } from '../../../lib/db/resplit.repo.js'
import { ChangeLogReader } from '../../../lib/runtime/read-path/reading.js'
import type { ChangeLogRow } from '../../../lib/model.js'
import { insertChanges } from '../../helpers/rows.js'

t.test('a partition reads up to the barrier and no further; a transaction older than the request holds it short of it until it commits', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const { db } = app.observers
  await recordPartitions(db, schema, 'default', 2)
  await insertChanges(pool, schema, 40, 'order', (i) => ({ n: `before-${i}` }))
  const early = await pool.connect()
  t.teardown(() => { early.release() })
  await early.query('begin')
  await insertChanges(early, schema, 20, 'order', (i) => ({ n: `early-${i}` }))
  t.equal(await requestResplit(db, schema, 'default', 4), 'requested')
  const barrier = (await listenerState(db, schema, 'default'))?.resplit?.barrier_txid as string
  await insertChanges(pool, schema, 40, 'order', (i) => ({ n: `after-${i}` }))

  const reader = new ChangeLogReader(db, schema, 'default#0', 7, 0, Date.now, { index: 0, count: 2, listener: 'default' })
  await reader.restart()
  const read: ChangeLogRow[] = []
  const drain = async (): Promise<void> => {
    for (let batch = await reader.next(); batch !== null; batch = await reader.next()) read.push(...reader.take(batch).rows)
  }
  const { rows: [{ n: beforeRows }] } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log
    where object_id like 'before-%' and ${partitionOf(2, 'object_type', 'object_id')} = 0`)
  await eventually(async () => { await drain(); return read.length === beforeRows || undefined }, 10_000, 'the rows committed before the request')
  await drain()
  t.equal(read.length, beforeRows, 'nothing more while the older transaction is open')
  t.notSame(reader.position, { txid: barrier, id: '0' }, 'and the partition is short of the barrier')

  await early.query('commit')
  const { rows: [{ n: total }] } = await pool.query(`select count(*)::int as n from "${schema}".tb_entity_change_log
    where object_id not like 'after-%' and ${partitionOf(2, 'object_type', 'object_id')} = 0`)
  await eventually(async () => { await drain(); return (read.length === total && reader.position.txid === barrier) || undefined }, 10_000, 'the barrier')
  t.same(reader.position, { txid: barrier, id: '0' }, 'the partition moves to the barrier')
  t.equal(read.filter((r) => r.object_id.startsWith('after-')).length, 0, 'no row of a transaction after the request')
  t.equal(new Set(read.map((r) => r.pk_entity_change_log)).size, total, 'every row before it, once')
  t.equal(await reader.next(), null, 'and reads nothing more')
})
