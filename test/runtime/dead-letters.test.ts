import t from 'tap'
import { build, eventually } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { countRows, insertChanges, insertObserver } from '../helpers/rows.js'

t.test('dead letters: list, get, retry one (once under concurrency), retry all with filters, delete', async (t) => {
  const sink = await startHttpTarget(t)
  let healthy = false
  sink.respond = (_req, res) => { res.writeHead(healthy ? 200 : 400).end() }
  const { app, pool, schema } = await build(t)
  const hook = await insertObserver(pool, schema, { name: 'hook', actions: [{ type: 'webhook', url: sink.url }] })
  const other = await insertObserver(pool, schema, { name: 'other', entity_type: 'invoice', actions: [{ type: 'webhook', url: sink.url + '/other' }] })
  await app.observers.reload()
  await insertChanges(pool, schema, 3, 'order')
  await insertChanges(pool, schema, 2, 'invoice')
  // 3 orders x hook + 2 invoices x (hook + other) = 7 dead letters
  await eventually(async () => await countRows(pool, schema, 'tb_observer_dead_letter') === 7 || undefined)
  const dl = app.observers.deadLetters

  const page1 = await dl.list({}, 4)
  t.equal(page1.data.length, 4)
  t.not(page1.next_cursor, null)
  const page2 = await dl.list({}, 4, page1.next_cursor ?? undefined)
  t.equal(page2.data.length, 3)
  t.equal(page2.next_cursor, null)
  t.equal(new Set([...page1.data, ...page2.data].map((d) => d.id)).size, 7, 'pages are disjoint')
  t.equal((await dl.list({ observer_id: other }, 10)).data.length, 2)
  t.equal((await dl.list({ entity_type: 'order' }, 10)).data.length, 3)
  t.equal((await dl.list({ action_type: 'email' }, 10)).data.length, 0)
  const stats = await dl.stats()
  t.same(stats.by_action_type, [{ action_type: 'webhook', count: 7 }])
  t.equal(stats.total, 7)
  t.same(stats.by_observer.map((o) => [o.observer_name, o.count]), [['hook', 5], ['other', 2]])

  const item = page1.data[0]
  const full = await dl.get(item.id)
  t.match(full, { id: item.id, attempts: 1, error_code: 'HTTP_400', event: { event_id: item.event_id } })

  // still failing: the item stays with one more attempt
  t.match(await dl.retry(item.id), { id: item.id, status: 'failed', error_message: /400/ })
  t.equal((await dl.get(item.id))?.attempts, 2)

  healthy = true
  const before = sink.received.length
  const settled = await Promise.allSettled([dl.retry(item.id), dl.retry(item.id)])
  const delivered = settled.filter((s) => s.status === 'fulfilled')
  const refused = settled.filter((s) => s.status === 'rejected')
  t.equal(delivered.length, 1, 'one of two concurrent retries runs')
  t.match((delivered[0] as PromiseFulfilledResult<unknown>).value, { id: item.id, status: 'delivered' })
  t.match((refused[0] as PromiseRejectedResult).reason, { statusCode: 409 })
  t.equal(sink.received.length - before, 1, 'the action ran once')
  t.equal(await dl.get(item.id), undefined, 'a delivered item is removed')
  t.equal(await countRows(pool, schema, 'tb_observer_log', `status = 'success' and event_id = '${item.event_id}' and observer_id = '${item.observer_id}'`), 1, 'with a success log row')
  await t.rejects(dl.retry(item.id), { statusCode: 404 } as unknown as Error, 'gone is 404')

  const all = await dl.retryAll({ observer_id: hook, entity_type: 'invoice' })
  t.same(all, { retried: 2, delivered: 2, failed: 0 }, 'filters select what is retried')
  t.equal(await countRows(pool, schema, 'tb_observer_dead_letter'), 4)
  const rest = await dl.retryAll({})
  t.same(rest, { retried: 4, delivered: 4, failed: 0 })

  await insertChanges(pool, schema, 1, 'gone')
  healthy = false
  await insertChanges(pool, schema, 1, 'order', () => ({ n: 'late' }))
  const last = await eventually(async () => (await dl.list({}, 1)).data[0])
  t.equal(await dl.delete(last.id), true)
  t.equal(await dl.delete(last.id), false)
})
