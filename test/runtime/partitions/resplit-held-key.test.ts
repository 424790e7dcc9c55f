// A key held by a failing delivery of an ordered observer across a re-split: its parked events, and
// those that come after the switch, follow in order once it succeeds, read by its new partition.
import t from 'tap'
import { AUTH, build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { countRows, insertObserver } from '../../helpers/rows.js'

t.test('a held key and its parked events outlive a re-split from 4 to 8: delivered in order by the key\'s new partition', async (t) => {
  const delivered = new Map<string, number[]>()
  let failing = true
  let hot = ''
  const sink = await startHttpTarget(t, (req, res) => {
    const key = req.json.entity_id as string
    const seq = req.json.data.seq as number
    const status = key === hot && seq === 1 && failing ? 500 : 200
    if (status === 200) delivered.set(key, [...(delivered.get(key) ?? []), seq])
    res.writeHead(status).end()
  })
  const { app, pool, schema } = await build(t, { runtime: { start: false, partitions: 4, handoffDrainMs: 500 } })
  await insertObserver(pool, schema, {
    ordering: 'entity', retry_config: { max_attempts: 100, backoff_strategy: 'fixed', initial_delay_ms: 300, jitter: false }, actions: [{ type: 'webhook', url: sink.url }]
  })
  // the held key moves: its partition out of 8 is not its partition out of 4
  const { rows: [moving] } = await pool.query<{ key: string }>(`select 'hot' || g as key from generate_series(0, 99) g
    where (hashtext('order/hot' || g) & 2147483647) % 8 <> (hashtext('order/hot' || g) & 2147483647) % 4 order by g limit 1`)
  hot = moving.key
  const keys = [hot, ...Array.from({ length: 20 }, (_, i) => `k${i}`)]
  const insertRound = async (seq: number): Promise<void> => {
    await pool.query(`insert into "${schema}".tb_entity_change_log (object_type, object_id, modification_type, object_data)
      select 'order', k, 'UPDATE', jsonb_build_object('seq', $2::int) from unnest($1::text[]) as k`, [keys, seq])
  }
  await app.observers.start()
  for (let seq = 1; seq <= 4; seq++) await insertRound(seq)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_parked') === 3 || undefined, 20_000, 'three events parked behind the failing one')

  const res = await app.inject({ method: 'PUT', url: '/observers/listeners/default', headers: AUTH, payload: { partitions: 8 } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().partitions, 8)
  for (let seq = 5; seq <= 6; seq++) await insertRound(seq)
  await eventually(async () => await countRows(pool, schema, 'tb_observer_parked') === 5 || undefined, 20_000, 'the events after the switch parked behind it too')
  t.same(delivered.get(hot), undefined, 'nothing of the held key went out meanwhile')

  failing = false
  await eventually(() => delivered.get(hot)?.length === 6 || undefined, 20_000, 'the held key caught up')
  t.same(delivered.get(hot), [1, 2, 3, 4, 5, 6], 'in the order its changes were made')
  t.same(keys.slice(1).filter((k) => JSON.stringify(delivered.get(k)) !== '[1,2,3,4,5,6]'), [], 'every other key got each of its changes once, in order')
  await eventually(async () => await countRows(pool, schema, 'tb_observer_key') === 0 || undefined, 10_000, 'the key freed')
})
