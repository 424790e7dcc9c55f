// What each event costs the database at a low rate. The reader does not read again right after
// taking everything there was: it waits for the next NOTIFY, so an event costs one read (and its
// commit), not a read and a second one that finds nothing; and those two statements are prepared
// once per connection.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { build, eventually } from '../helper.js'
import { getDatabaseUrl, uniqueSchema, watchStatements } from '../helpers/pg.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'
import { counterValue } from '../helpers/metrics.js'

t.test('one event at a time: no read again that finds nothing', async (t) => {
  const { app, schema, sink, writer, logged } = await notifyOnlyReader(t)
  const reads = async (result: string): Promise<number> => await counterValue(app.observers.metrics, 'observers_change_log_reads_total', { result })
  const before = await reads('empty')
  for (let i = 2; i <= 11; i++) {
    await insertChanges(writer, schema, 1)
    await logged(i, `event ${i} logged`)
  }
  t.equal(sink.received.length, 11, 'every event delivered once')
  // reads that found an event held back by another test's open transaction (the database is
  // shared) are counted apart, as `held`; a late NOTIFY (the observer's, or one that came during
  // a read) wakes it for nothing now and then: 0 in most runs, up to 2 seen
  const empty = await reads('empty') - before
  t.ok(empty <= 4, `${empty} reads found nothing (one per event, 10, before)`)
})

t.test('the read and the commit are prepared statements, planned once per connection', async (t) => {
  const sink = await startHttpTarget(t)
  // one pooled connection, so the check below runs where the read and the commit ran (the lease
  // and LISTEN have a connection of their own, outside the pool)
  const pool = new pg.Pool({ connectionString: await getDatabaseUrl(), max: 1 })
  const schema = uniqueSchema()
  t.teardown(async () => {
    await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => {})
    await pool.end()
  })
  const { app } = await build(t, { runtime: { pollIntervalMs: 60_000 } }, { pool, schema })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  for (let i = 1; i <= 3; i++) {
    await insertChanges(pool, schema, 1)
    await eventually(async () => await countRows(pool, schema, 'tb_observer_log') === i, 10_000, `event ${i} logged`)
  }
  const { rows } = await pool.query<{ statement: string }>('select statement from pg_prepared_statements')
  t.ok(rows.some((r) => r.statement.includes('tb_entity_change_log') && r.statement.includes('pg_snapshot_xmin')), 'the batch read')
  t.ok(rows.some((r) => r.statement.includes('with moved as')), 'the commit of a batch of successes')
})

/**
 * A pool whose change-log reads are counted: every read statement, and the rows-or-horizon
 * statements (`lateral`) that a read ran first, not after the fast read had found nothing: a
 * read whose fast read finds nothing asks for the horizon next, and when the rows' holder ends
 * between the two, that read finds them.
 */
async function countingPool (t: Test): Promise<{ pool: pg.Pool, schema: string, reads: { all: number, lateral: number } }> {
  const pool = new pg.Pool({ connectionString: await getDatabaseUrl(), max: 4 })
  const schema = uniqueSchema()
  t.teardown(async () => {
    await pool.query(`drop schema if exists "${schema}" cascade`).catch(() => {})
    await pool.end()
  })
  const reads = { all: 0, lateral: 0 }
  let afterFastRead = false
  watchStatements(pool, (text) => {
    if (!text.includes('tb_entity_change_log') || !text.includes('pg_snapshot_xmin')) return
    reads.all++
    const lateral = text.includes('lateral')
    if (lateral && !afterFastRead) reads.lateral++
    // the slow path's read above the horizon is not a fast read
    afterFastRead = !lateral && !text.includes('tb_change_log_ahead')
  })
  return { pool, schema, reads }
}

const readsCounted = async (app: FastifyInstance, results = ['rows', 'empty', 'held']): Promise<number> => {
  let n = 0
  for (const result of results) n += await counterValue(app.observers.metrics, 'observers_change_log_reads_total', { result })
  return n
}

t.test('an idle poll is one statement: no second read for the horizon, no read above it when nothing is there', async (t) => {
  const { pool, schema, reads } = await countingPool(t)
  // polls every 20 ms, and the horizon counts as stalled after 10 ms without moving
  const { app } = await build(t, { runtime: { pollIntervalMs: 20, horizonStallMs: 10 } }, { pool, schema })
  await eventually(async () => await readsCounted(app) > 0, 10_000, 'the first read')
  const [readsBefore, statementsBefore] = [await readsCounted(app), reads.all]
  await eventually(async () => await readsCounted(app) - readsBefore >= 30, 10_000, '30 idle polls')
  const [polls, statements] = [await readsCounted(app) - readsBefore, reads.all - statementsBefore]
  t.ok(statements <= polls + 1, `${statements} change-log statements for ${polls} idle polls`)
})

t.test('a read woken by a NOTIFY takes the fast path, even after idle polls', async (t) => {
  const sink = await startHttpTarget(t)
  const { pool, schema, reads } = await countingPool(t)
  // only NOTIFY wakes the reader; its first read, at the start, found nothing
  const { app } = await build(t, { runtime: { pollIntervalMs: 60_000 } }, { pool, schema })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await eventually(async () => await readsCounted(app, ['empty']) > 0, 10_000, 'the first read')
  const [emptyBefore, lateralBefore] = [await readsCounted(app, ['empty', 'held']), reads.lateral]
  for (let i = 1; i <= 5; i++) {
    await insertChanges(pool, schema, 1)
    await eventually(async () => await countRows(pool, schema, 'tb_observer_log') === i, 10_000, `event ${i} logged`)
  }
  // the rows-or-horizon statement runs once per read that found nothing (a late NOTIFY now and
  // then), never for the reads that found the events
  const [empty, lateral] = [await readsCounted(app, ['empty', 'held']) - emptyBefore, reads.lateral - lateralBefore]
  t.ok(lateral <= empty, `${lateral} rows-or-horizon statements, ${empty} reads that found nothing`)
  t.equal(sink.received.length, 5)
})

t.test('a read after one that found rows held back by an open transaction takes the fast path', async (t) => {
  const sink = await startHttpTarget(t)
  const { pool, schema, reads } = await countingPool(t)
  const { app } = await build(t, { runtime: { pollIntervalMs: 60_000, horizonStallMs: 60_000 } }, { pool, schema })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  await eventually(async () => await readsCounted(app, ['empty']) > 0, 10_000, 'the first read')
  const writer = new pg.Pool({ connectionString: await getDatabaseUrl(), max: 2 })
  t.teardown(async () => { await writer.end() })
  for (let i = 1; i <= 3; i++) {
    // a transaction with an id holds the horizon; an event committed after it waits for it
    const holder = await writer.connect()
    await holder.query('begin')
    await holder.query('select pg_current_xact_id()')
    const heldBefore = await readsCounted(app, ['held'])
    await insertChanges(writer, schema, 1)
    await eventually(async () => await readsCounted(app, ['held']) > heldBefore, 10_000, `event ${i} read as held back`)
    const [missedBefore, lateralBefore] = [await readsCounted(app, ['empty', 'held']), reads.lateral]
    // it ends with no NOTIFY (it wrote no change): the reader's next read, on its own, finds the event
    await holder.query('commit')
    holder.release()
    await eventually(async () => await countRows(writer, schema, 'tb_observer_log') === i, 10_000, `event ${i} logged`)
    const [missed, lateral] = [await readsCounted(app, ['empty', 'held']) - missedBefore, reads.lateral - lateralBefore]
    t.ok(lateral <= missed, `event ${i}: ${lateral} rows-or-horizon statements, ${missed} reads that found nothing`)
  }
  t.equal(sink.received.length, 3)
})

t.test('a NOTIFY for rows already read wakes no read', async (t) => {
  const { app, schema, sink, writer, logged } = await notifyOnlyReader(t)
  const { rows: [read] } = await writer.query<{ txid: string }>(`select txid::text from "${schema}".tb_entity_change_log order by pk_entity_change_log desc limit 1`)
  const before = await readsCounted(app)
  // what a busy log sends a reader all the time: the NOTIFY of a transaction whose rows an
  // earlier read, woken by an earlier NOTIFY, already took
  for (let i = 0; i < 20; i++) await writer.query('select pg_notify($1, $2)', [`${schema}_changes`, read.txid])
  await insertChanges(writer, schema, 1)
  await logged(2, 'the second event logged')
  const woken = await readsCounted(app) - before
  t.ok(woken <= 2, `${woken} reads for 20 NOTIFYs of rows read and one new event`)
  t.equal(sink.received.length, 2, 'every event delivered once')
})

t.test('a NOTIFY that comes during the read that takes its rows wakes no read after it', async (t) => {
  const { app, schema, sink, writer, logged } = await notifyOnlyReader(t, 3)
  const before = await readsCounted(app, ['empty'])
  // the change-log read also reads the observers' version: while a lock holds that table, a read
  // waits, and takes its snapshot once it has the lock
  const locker = await writer.connect()
  const listener = await writer.connect()
  t.teardown(() => { locker.release(); listener.release() })
  await locker.query('begin')
  await locker.query(`lock table "${schema}".tb_observer_version in access exclusive mode`)
  await insertChanges(writer, schema, 1)
  await eventually(async () => {
    const { rows: [{ n }] } = await writer.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and position($1 in query) > 0 and query like '%tb_entity_change_log%'", [schema])
    return n > 0
  }, 10_000, 'the read woken by the second event waits for the lock')
  // two more commits while it waits: their NOTIFYs come during the read (a listener of our own
  // has them), and the read takes their rows
  const notified: string[] = []
  listener.on('notification', (n) => { notified.push(n.payload ?? '') })
  await listener.query(`listen "${schema}_changes"`)
  await insertChanges(writer, schema, 1)
  await insertChanges(writer, schema, 1)
  await eventually(async () => notified.length === 2, 10_000, 'both NOTIFYs sent')
  await locker.query('commit')
  await logged(4, 'every event logged')
  t.equal(sink.received.length, 4, 'every event delivered once')
  t.equal(await readsCounted(app, ['empty']) - before, 0, 'no read found nothing')
})

/**
 * A runtime that only NOTIFY wakes (the poll interval far away) with one webhook observer, a
 * writer pool of `writers` connections, and the first event delivered and logged.
 */
async function notifyOnlyReader (t: Test, writers = 1) {
  const sink = await startHttpTarget(t)
  const { app, pool, schema } = await build(t, { runtime: { pollIntervalMs: 60_000 } })
  await insertObserver(pool, schema, { actions: [{ type: 'webhook', url: sink.url }] })
  await app.observers.reload()
  const writer = new pg.Pool({ connectionString: await getDatabaseUrl(), max: writers })
  t.teardown(async () => { await writer.end() })
  const logged = async (n: number, what: string): Promise<void> => {
    await eventually(async () => await countRows(writer, schema, 'tb_observer_log') === n, 10_000, what)
  }
  await insertChanges(writer, schema, 1)
  await logged(1, 'the first event logged')
  return { app, schema, sink, writer, logged }
}
