// Fencing (SPEC 9.2): a holder paused past its lease (SIGSTOP) loses its partitions, and whatever
// it had in flight commits nothing once it wakes.
import t from 'tap'
import { eventually } from '../../helper.js'
import { cluster, eventIds, partitioned, sorted } from '../../helpers/partitions.js'
import { countRows } from '../../helpers/rows.js'
import { startRuntimeProcess } from '../../helpers/processes.js'

t.test('a paused holder that loses its partitions commits nothing after it wakes', async (t) => {
  // answers wait a while: deliveries are in flight, uncommitted, when the holder is paused
  // (attempts it handed over stay claimed until their claim, no longer renewed, runs out: CLAIM_MS, 15 s)
  const { sink, url, pool, schema, shares, insert, inserted } = await cluster(t)
  sink.respond = (_req, res) => { setTimeout(() => res.writeHead(200).end('ok'), 300) }
  const a = await startRuntimeProcess(t, url, schema, 'default', partitioned('a'))
  await startRuntimeProcess(t, url, schema, 'default', partitioned('b'))
  await eventually(async () => JSON.stringify(sorted(await shares())) === '[4,4]' || undefined, 20_000, 'an even split')
  await insert(400)
  await sink.waitFor(20, 20_000)
  a.kill('SIGSTOP')
  t.teardown(() => { a.kill('SIGCONT') })
  const taken = await eventually(async () => { const s = await shares(); return s.b === 8 ? s : undefined }, 15_000, 'the paused holder\'s partitions taken')
  t.same(Object.keys(taken), ['b'])
  await eventually(() => new Set(eventIds(sink)).size === inserted() || undefined, 35_000, 'every event delivered by the new holder and, once their claims ran out, what the paused one had handed over')
  a.kill('SIGCONT')
  // awake, it is heard from again and gets its share back, handed over by b
  await eventually(async () => JSON.stringify(sorted(await shares())) === '[4,4]' || undefined, 20_000, 'the woken instance back at its share')
  const { rows } = await pool.query(`select event_id, count(*)::int as n from "${schema}".tb_observer_log group by event_id having count(*) > 1`)
  t.same(rows, [], 'each event logged once: what the paused holder delivered before it slept was committed by the new holder alone')
  t.equal(await countRows(pool, schema, 'tb_observer_log'), inserted())
})
