// Ordered delivery per entity (SPEC 9.1), end to end: a real receiver records, per entity, the
// order events arrive in and whether two of them were ever in flight at once.
import t from 'tap'
import type { ServerResponse } from 'node:http'
import { AUTH, build, eventually } from '../helper.js'
import { startHttpTarget, type HttpTarget, type Received } from '../helpers/http-target.js'
import { getDatabaseUrl } from '../helpers/pg.js'
import { kill9, startRuntimeProcess } from '../helpers/processes.js'
import { countRows, insertObserver } from '../helpers/rows.js'
import type pg from 'pg'

interface Receiver {
  target: HttpTarget
  /** per entity id: the sequence numbers of the successful deliveries, in arrival order */
  delivered: Map<string, number[]>
  /** an entity had two requests in flight at once */
  overlaps: string[]
  /** decides each answer: a status code (default 200) */
  answer: (entity: string, seq: number, attempt: number) => number
  attempts: Map<string, number>
}

/** Answers after a short, uneven delay, so that deliveries that could overlap do. */
async function startReceiver (t: Parameters<typeof startHttpTarget>[0]): Promise<Receiver> {
  const inFlight = new Set<string>()
  const receiver: Receiver = { target: undefined as unknown as HttpTarget, delivered: new Map(), overlaps: [], answer: () => 200, attempts: new Map() }
  receiver.target = await startHttpTarget(t, (req: Received, res: ServerResponse) => {
    const entity = req.json.entity_id as string
    const seq = req.json.data.seq as number
    if (inFlight.has(entity)) receiver.overlaps.push(entity)
    inFlight.add(entity)
    const id = `${entity}#${seq}`
    const attempt = (receiver.attempts.get(id) ?? 0) + 1
    receiver.attempts.set(id, attempt)
    setTimeout(() => {
      inFlight.delete(entity)
      const status = receiver.answer(entity, seq, attempt)
      if (status === 200) receiver.delivered.set(entity, [...(receiver.delivered.get(entity) ?? []), seq])
      res.writeHead(status).end()
    }, seq % 3)
  })
  return receiver
}

/** `rounds` statements, each inserting event `seq` of every entity: commit order is seq order per entity. */
async function insertRounds (pool: pg.Pool, schema: string, entities: string[], rounds: number, firstSeq = 1): Promise<void> {
  for (let seq = firstSeq; seq < firstSeq + rounds; seq++) {
    await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
      select 'order', e, 'UPDATE', jsonb_build_object('seq', $2::int) from unnest($1::text[]) as e`, [entities, seq])
  }
}

const range = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
const inOrder = (seqs: number[] | undefined, n: number, first = 1): boolean => JSON.stringify(seqs) === JSON.stringify(Array.from({ length: n }, (_, i) => first + i))

t.test('1 000 entities x 20 events under concurrency 32 (all of it for the one endpoint): one at a time per entity, in commit order', async (t) => {
  const receiver = await startReceiver(t)
  const { app, pool, schema } = await build(t, { runtime: { start: false, concurrency: 32, maxInFlightPerEndpoint: 32 } })
  await insertObserver(pool, schema, { ordering: 'entity', actions: [{ type: 'webhook', url: receiver.target.url }] })
  const entities = range(1000, 'e')
  await insertRounds(pool, schema, entities, 20)
  await app.observers.start()
  await eventually(() => [...receiver.delivered.values()].reduce((n, s) => n + s.length, 0) === 20_000 || undefined, 120_000, '20 000 deliveries')
  t.same(entities.filter((e) => !inOrder(receiver.delivered.get(e), 20)), [], 'every entity got 1..20 in order')
  t.same(receiver.overlaps, [], 'no entity ever had two deliveries in flight')
  // a delivery still running when its batch commits is handed over, and holds its key until it ends
  await eventually(async () => await countRows(pool, schema, 'tb_observer_parked') + await countRows(pool, schema, 'tb_observer_key') === 0 || undefined, 10_000, 'keys that never fail: none stays held once delivered')
})

t.test('a failing entity is held alone: the others flow, then its events follow in order', async (t) => {
  const receiver = await startReceiver(t)
  let failing = true
  receiver.answer = (entity, seq) => entity === 'hot' && seq === 1 && failing ? 500 : 200
  const { app, pool, schema } = await build(t)
  const observerId = await insertObserver(pool, schema, {
    ordering: 'entity', retry_config: { max_attempts: 20, backoff_strategy: 'fixed', initial_delay_ms: 20, jitter: false }, actions: [{ type: 'webhook', url: receiver.target.url }]
  })
  await app.observers.reload()
  const others = range(50, 'o')
  await insertRounds(pool, schema, ['hot', ...others], 5)
  await eventually(() => others.every((e) => inOrder(receiver.delivered.get(e), 5)) || undefined, 30_000, 'the other entities delivered')
  await eventually(() => (receiver.attempts.get('hot#1') ?? 0) >= 3 || undefined, 30_000, 'three failed attempts')
  t.equal(receiver.delivered.get('hot'), undefined, 'nothing of the failing entity went out meanwhile')
  const blocked = await eventually(async () => {
    const page = (await app.inject({ url: `/observers/${observerId}/blocked`, headers: AUTH })).json()
    return page.data[0]?.parked_count === 4 && page.data[0].blocking.attempts >= 3 ? page : undefined
  }, 10_000, 'four events parked behind a delivery tried three times')
  t.match(blocked.data, [{ entity_type: 'order', entity_id: 'hot', parked_count: 4, blocking: { dead_letter_id: null, event_id: /^[0-9a-f-]{36}$/ } }])
  t.ok(blocked.data[0].blocking.next_retry_at !== null, 'its next attempt is scheduled')
  const health = await app.observers.health()
  t.match(health, { blocked_keys: 1, parked_events: 4 })
  const metrics = (await app.inject({ url: '/observers/metrics', headers: AUTH })).body
  t.match(metrics, /observers_parked_events 4/)

  failing = false
  await eventually(() => inOrder(receiver.delivered.get('hot'), 5) || undefined, 30_000, 'the failing entity caught up')
  t.same(receiver.overlaps, [])
  await eventually(async () => await countRows(pool, schema, 'tb_observer_key') === 0 || undefined, 10_000, 'the key freed')
  t.equal(await countRows(pool, schema, 'tb_observer_parked'), 0)
  // freed: its next event goes straight through again
  await insertRounds(pool, schema, ['hot'], 1, 6)
  await eventually(() => inOrder(receiver.delivered.get('hot'), 6) || undefined, 10_000, 'a later event of the freed entity')
  t.equal(await countRows(pool, schema, 'tb_observer_parked'), 0, 'not parked')
})

t.test('on_dead_letter skip: a dead-lettered event lets the entity go on', async (t) => {
  const receiver = await startReceiver(t)
  receiver.answer = (entity, seq) => entity === 'k' && seq === 2 ? 400 : 200
  const { pool, schema } = await build(t)
  await insertObserver(pool, schema, { ordering: 'entity', on_dead_letter: 'skip', actions: [{ type: 'webhook', url: receiver.target.url }] })
  await insertRounds(pool, schema, ['k'], 4)
  await eventually(() => receiver.delivered.get('k')?.length === 3 || undefined, 10_000)
  t.same(receiver.delivered.get('k'), [1, 3, 4])
  await eventually(async () => await countRows(pool, schema, 'tb_observer_dead_letter') === 1 || undefined, 10_000, 'the dead letter')
  t.equal(await countRows(pool, schema, 'tb_observer_key'), 0, 'nothing held')
})

t.test('on_dead_letter block: the entity waits until its dead letter is retried or discarded', async (t) => {
  const receiver = await startReceiver(t)
  let refuse = true
  receiver.answer = (entity, seq) => seq === 2 && refuse ? 400 : 200
  const { app, pool, schema } = await build(t)
  const observerId = await insertObserver(pool, schema, { ordering: 'entity', on_dead_letter: 'block', actions: [{ type: 'webhook', url: receiver.target.url }] })
  await app.observers.reload()
  await insertRounds(pool, schema, ['retried', 'discarded'], 4)
  const blocked = await eventually(async () => {
    const page = (await app.inject({ url: `/observers/${observerId}/blocked`, headers: AUTH })).json()
    return page.data.length === 2 && page.data.every((k: { parked_count: number, blocking: { dead_letter_id: string | null } }) => k.parked_count === 2 && k.blocking.dead_letter_id !== null) ? page.data : undefined
  }, 10_000, 'both entities held by their dead letter')
  t.same(receiver.delivered.get('retried'), [1])
  t.same(receiver.delivered.get('discarded'), [1])
  const byEntity = new Map(blocked.map((k: { entity_id: string, blocking: { dead_letter_id: string } }) => [k.entity_id, k.blocking.dead_letter_id]))

  refuse = false
  const retried = await app.inject({ method: 'POST', url: `/observers/dlq/${String(byEntity.get('retried'))}/retry`, headers: AUTH })
  t.match(retried.json(), { status: 'delivered' })
  await eventually(() => inOrder(receiver.delivered.get('retried'), 4) || undefined, 10_000, 'released after the retry')
  t.same(receiver.delivered.get('discarded'), [1], 'the other entity still waits')

  t.equal((await app.inject({ method: 'DELETE', url: `/observers/dlq/${String(byEntity.get('discarded'))}`, headers: AUTH })).statusCode, 204)
  await eventually(() => receiver.delivered.get('discarded')?.length === 3 || undefined, 10_000, 'released after the discard')
  t.same(receiver.delivered.get('discarded'), [1, 3, 4], 'the discarded event is skipped, the rest follow in order')
})

t.test('parked events survive kill -9 of the reader and a takeover, in order, nothing lost', async (t) => {
  const receiver = await startReceiver(t)
  let failing = true
  receiver.answer = (entity, seq) => entity === 'held' && seq === 1 && failing ? 503 : 200
  const url = await getDatabaseUrl()
  const { pool, schema } = await build(t, { runtime: { start: false } })
  await insertObserver(pool, schema, {
    ordering: 'entity', retry_config: { max_attempts: 5, backoff_strategy: 'fixed', initial_delay_ms: 600_000, jitter: false }, actions: [{ type: 'webhook', url: receiver.target.url }]
  })
  const first = await startRuntimeProcess(t, url, schema)
  const others = range(20, 'o')
  await insertRounds(pool, schema, ['held', ...others], 5)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_parked') === 4 || undefined, 30_000, 'four events parked')
  await kill9(first)

  await startRuntimeProcess(t, url, schema)
  failing = false
  // the retry was due in ten minutes: an operator's nudge, as any instance may run it
  await pool.query(`update "${schema}".tb_observer_retry set due_at = now()`)
  await eventually(() => inOrder(receiver.delivered.get('held'), 5) || undefined, 30_000, 'the held entity caught up after the takeover')
  await eventually(() => others.every((e) => (receiver.delivered.get(e)?.length ?? 0) >= 5) || undefined, 30_000)
  for (const e of others) {
    const seqs = receiver.delivered.get(e) as number[]
    // at-least-once: a batch in flight at the kill may go out again, but never out of order
    t.same([...new Set(seqs)], [1, 2, 3, 4, 5], `${e} complete and in order`)
  }
  t.same(receiver.overlaps, [])
  await eventually(async () => await countRows(pool, schema, 'tb_observer_key') === 0 || undefined, 10_000, 'the key freed')
})

t.test('an unordered observer is not held by its failures, as before', async (t) => {
  const receiver = await startReceiver(t)
  let failing = true
  receiver.answer = (entity, seq) => entity === 'x' && seq === 1 && failing ? 500 : 200
  const { pool, schema } = await build(t)
  await insertObserver(pool, schema, { retry_config: { max_attempts: 50, backoff_strategy: 'fixed', initial_delay_ms: 20, jitter: false }, actions: [{ type: 'webhook', url: receiver.target.url }] })
  await insertRounds(pool, schema, ['x'], 3)
  await eventually(() => receiver.delivered.get('x')?.length === 2 || undefined, 10_000)
  t.same([...receiver.delivered.get('x') ?? []].sort(), [2, 3], 'the later events went out while the first was failing')
  failing = false
  await eventually(() => receiver.delivered.get('x')?.length === 3 || undefined, 10_000)
  t.equal(await countRows(pool, schema, 'tb_observer_key') + await countRows(pool, schema, 'tb_observer_parked'), 0)
})
