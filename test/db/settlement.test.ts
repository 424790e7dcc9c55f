// commitSettlement with a checkpoint move: all of a batch or nothing, and nothing at all once the
// checkpoint moved under it, on both of its paths (logs only in one statement; retries and dead
// letters in a transaction).
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { build, eventually } from '../helper.js'
import { countRows } from '../helpers/rows.js'
import { commitSettlement, type CheckpointMove } from '../../lib/db/settlement.repo.js'
import type { AttemptLog, ObserverEvent, Settlement } from '../../lib/model.js'
import { getCheckpoint } from '../../lib/db/checkpoint.repo.js'

function log (status: AttemptLog['status'] = 'success'): AttemptLog {
  return {
    observer_id: randomUUID(),
    event_id: randomUUID(),
    change_log_id: '1',
    entity_type: 'order',
    entity_id: '1',
    event_type: 'INSERT',
    action_index: 0,
    action_type: 'webhook',
    status,
    attempt_number: 1,
    max_attempts: 3,
    started_ms: Date.parse('2026-01-02T03:04:05.678Z'),
    duration_ms: 12
  }
}

type Batch = Settlement & { checkpoint: CheckpointMove }

function batch (from: { txid: string, id: string }, to: { txid: string, id: string }, extra: Partial<Settlement> & { processed?: number } = {}): Batch {
  const { processed = 2, ...settlement } = extra
  return { logs: [log(), log()], retries: [], deadLetters: [], holds: [], parked: [], ...settlement, checkpoint: { listenerId: 'default', from, to, processed, ahead: [], clearAhead: false } }
}

async function commitBatch (db: Parameters<typeof commitSettlement>[0], schema: string, { checkpoint, ...settlement }: Batch): Promise<boolean> {
  return await commitSettlement(db, schema, settlement, checkpoint)
}

t.test('logs only: written with the checkpoint move, or not at all when it moved', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const db = app.observers.db
  await pool.query(`insert into "${schema}".observer_checkpoints (listener_id) values ('default')`)
  const start = { txid: '0', id: '0' }
  t.equal(await commitBatch(db, schema, batch(start, { txid: '5', id: '10' })), true)
  t.match(await getCheckpoint(db, 'default'), { position: { txid: '5', id: '10' }, event_count: 2 })
  const { rows } = await pool.query(`select started_at, completed_at from "${schema}".tb_observer_log`)
  t.same(rows.map((r) => [r.started_at.toISOString(), r.completed_at.toISOString()]),
    Array(2).fill(['2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.690Z']), 'times from epoch milliseconds, completed = started + duration')
  t.equal(await commitBatch(db, schema, batch(start, { txid: '6', id: '11' })), false, 'a stale `from` is refused')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 2, 'and writes no log row')
  t.match(await getCheckpoint(db, 'default'), { position: { txid: '5', id: '10' }, event_count: 2 })
})

t.test('with a retry to schedule: the same, in a transaction', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const db = app.observers.db
  await pool.query(`insert into "${schema}".observer_checkpoints (listener_id) values ('default')`)
  const failed = log('failed')
  const retry = { observer_id: failed.observer_id, event_id: failed.event_id, change_log_id: '1', action_index: 0, event: {} as ObserverEvent, attempt_number: 2, first_failed_at: new Date(), due_at: new Date(), last_error: 'HTTP_500' }
  const stale = batch({ txid: '9', id: '9' }, { txid: '10', id: '10' }, { logs: [failed], retries: [retry], processed: 1 })
  t.equal(await commitBatch(db, schema, stale), false)
  t.equal(await countRows(pool, schema, 'tb_observer_log') + await countRows(pool, schema, 'tb_observer_retry'), 0, 'nothing written')
  t.equal(await commitBatch(db, schema, { ...stale, checkpoint: { ...stale.checkpoint, from: { txid: '0', id: '0' } } }), true)
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 1)
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 1)
})

t.test('deliveries turned away by an open circuit: due at once when it closed meanwhile, even while the close is committing', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const db = app.observers.db
  await pool.query(`insert into "${schema}".observer_checkpoints (listener_id) values ('default')`)
  await pool.query(`insert into "${schema}".tb_observer_endpoint (endpoint, state) values ('http://open', 'open'), ('http://closing', 'open')`)
  const probeAt = new Date(Date.now() + 3_600_000)
  const waiting = (endpoint: string) => ({ observer_id: randomUUID(), event_id: randomUUID(), change_log_id: '1', action_index: 0, event: {} as ObserverEvent, attempt_number: 1, first_failed_at: new Date(), due_at: probeAt, last_error: 'circuit open', endpoint, waitsForCircuit: true })
  const dueSoon = async (endpoint: string): Promise<boolean> => {
    const { rows } = await pool.query(`select due_at < now() + interval '1 minute' as soon from "${schema}".tb_observer_retry where endpoint = $1`, [endpoint])
    return rows[0].soon
  }
  // a close in progress: the endpoint row is updated, not yet committed
  const closer = await pool.connect()
  t.teardown(() => { closer.release() })
  await closer.query('begin')
  await closer.query(`update "${schema}".tb_observer_endpoint set state = 'closed' where endpoint = 'http://closing'`)
  const committing = commitBatch(db, schema, batch({ txid: '0', id: '0' }, { txid: '5', id: '10' }, { logs: [], retries: [waiting('http://open'), waiting('http://closing')] }))
  let settled = false
  committing.then(() => { settled = true }, () => {})
  await eventually(async () => {
    const { rows } = await pool.query("select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like $1", [`%with moved as (update "${schema}"%`])
    return rows.length > 0 || undefined
  }, 5000, 'the batch waiting on the endpoint row')
  t.equal(settled, false, 'the batch waits for the close to commit (its endpoint row is share-locked)')
  await closer.query('commit')
  t.equal(await committing, true)
  t.equal(await dueSoon('http://closing'), true, 'what waited for the endpoint that closed is due at once')
  t.equal(await dueSoon('http://open'), false, 'what waits for the open one keeps its time')
})

t.test('a batch read under a lease that has passed commits nothing, on both paths, even when its checkpoint did not move', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const db = app.observers.db
  await pool.query(`insert into "${schema}".observer_checkpoints (listener_id) values ('default')`)
  const holder = await pool.connect()
  t.teardown(() => { holder.release(true) })
  const { rows: [{ pid }] } = await holder.query('select pg_try_advisory_lock(hashtext($1), hashtext($2)) as ok, pg_backend_pid() as pid', [schema, 'default'])
  const start = { txid: '0', id: '0' }
  const leased = (b: Batch): Batch => ({ ...b, checkpoint: { ...b.checkpoint, leasePid: pid } })
  t.equal(await commitBatch(db, schema, leased(batch(start, { txid: '5', id: '10' }))), true, 'committed while the lease is held')
  // the holder was paused, its session ended, and another took the lease: the checkpoint is where it was
  await holder.query('select pg_advisory_unlock(hashtext($1), hashtext($2))', [schema, 'default'])
  const at = { txid: '5', id: '10' }
  t.equal(await commitBatch(db, schema, leased(batch(at, { txid: '6', id: '11' }))), false, 'logs only: refused')
  const failed = log('failed')
  const retry = { observer_id: failed.observer_id, event_id: failed.event_id, change_log_id: '1', action_index: 0, event: {} as ObserverEvent, attempt_number: 2, first_failed_at: new Date(), due_at: new Date(), last_error: 'HTTP_500' }
  t.equal(await commitBatch(db, schema, leased(batch(at, { txid: '6', id: '11' }, { logs: [failed], retries: [retry], processed: 1, parked: [] }))), false, 'with a retry: refused')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), 2, 'only the first batch wrote its rows')
  t.equal(await countRows(pool, schema, 'tb_observer_retry'), 0)
  t.match(await getCheckpoint(db, 'default'), { position: at })
})
