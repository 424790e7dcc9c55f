// An instance looks for rows in the partitions it holds in one statement, and reads only where
// they wait: a commit wakes the partition it wrote to, not all of them; with nothing to read it
// polls them in one statement per poll interval, and that poll alone finds rows no NOTIFY announced.
import t, { type Test } from 'tap'
import pg from 'pg'
import { build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { insertChanges, insertObserver } from '../../helpers/rows.js'

const PARTITIONS = 8

async function holdingAll (t: Test) {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { start: false, partitions: PARTITIONS, instanceId: 'idle', partitionLeaseMs: 4000, pollIntervalMs: 50 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.start()
  await eventually(async () => (await app.observers.health()).partitions_held === PARTITIONS, 10_000, 'every partition held')
  return { app, pool, schema, sink }
}

/** Counts, from now on, the statements of this schema that read its change log, and the instance's polls. */
function countStatements (t: Test, schema: string): { reads: number, polls: number } {
  const counted = { reads: 0, polls: 0 }
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string }
    const text = typeof first === 'string' ? first : first?.text ?? ''
    if (text.includes(`"${schema}"."tb_entity_change_log"`)) {
      if (text.includes('pg_snapshot_xmin')) counted.reads++
      else if (text.includes('unnest')) counted.polls++
    }
    return (query as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof query
  t.teardown(() => { pg.Client.prototype.query = query })
  return counted
}

t.test('idle, an instance holding 8 partitions polls them in one statement per interval', async (t) => {
  const { schema } = await holdingAll(t)
  const counted = countStatements(t, schema)
  // 40 intervals of 50 ms: each partition polling on its own read the change log 320 times
  await eventually(() => counted.polls >= 40 || counted.reads >= 8 * 40, 10_000, '40 polls')
  // at most each partition's first read, which may come after its lease shows (two statements when it finds nothing)
  t.ok(counted.reads <= 2 * PARTITIONS, `${counted.reads} reads of the change log in ${counted.polls} polls with nothing to read`)
})

t.test('a commit of one row is read by its partition alone', async (t) => {
  const { pool, schema, sink } = await holdingAll(t)
  const counted = countStatements(t, schema)
  // 40 commits of one key each, each with its NOTIFY, heard by all 8 partitions' sessions
  for (let i = 0; i < 40; i++) await insertChanges(pool, schema, 1, 'order', () => ({ n: i }))
  await sink.waitFor(40, 10_000)
  // each partition reading on every NOTIFY read at least 8 times per commit (twice the statements
  // when it found nothing); some reads again shortly, when the commit waits behind an older transaction
  t.ok(counted.reads <= 4 * 40, `${counted.reads} reads of the change log for 40 commits of one row`)
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 40, 'each delivered')
})

t.test('rows no NOTIFY announced are read in every partition, found by the instance\'s poll', async (t) => {
  const { pool, schema, sink } = await holdingAll(t)
  // a lost NOTIFY, as when the trigger does not send one
  await pool.query(`alter table "${schema}".tb_entity_change_log disable trigger notify_changes`)
  await insertChanges(pool, schema, 64)
  const { rows } = await pool.query<{ partitions: number }>(
    `select count(distinct (hashtext(object_type || '/' || object_id) & 2147483647) % ${PARTITIONS})::int as partitions from "${schema}".tb_entity_change_log`)
  t.equal(rows[0].partitions, PARTITIONS, 'the rows fall in every partition')
  await sink.waitFor(64, 10_000)
  t.equal(new Set(sink.received.map((r) => r.json.event_id)).size, 64, 'each delivered')
})
