// The pure part of per-key change order: which keys a batch asks about, the order its groups run
// in, and which groups wait for a change not read yet.
import t from 'tap'
import type { Observer, ObserverEvent } from '../../../lib/model.js'
import { InReadOrder, keySpans, parkBehind, sortByChange } from '../../../lib/runtime/read-path/change-order.js'
import type { OrderedGroup } from '../../../lib/runtime/read-path/ordering.js'

const group = (observer: string, entity: string, changeLogId: string): OrderedGroup => ({
  key: `${observer}/${entity}`,
  observer: { id: observer } as unknown as Observer,
  event: { entity_type: 'items', entity_id: entity, change_log_id: changeLogId } as unknown as ObserverEvent,
  deliveries: [],
  parked: false
})

// read order (txid, id): id 9 of key k (txid 100), then id 7 of k (txid 101), then id 8 of j (txid 101)
const txids = new Map([['9', '100'], ['7', '101'], ['8', '101']])

t.test('a key of the batch asks for rows above its lowest txid and below its highest id', async (t) => {
  t.same(keySpans([group('a', 'k', '9'), group('a', 'k', '7'), group('b', 'k', '7'), group('a', 'j', '8')], txids), [
    { objectType: 'items', objectId: 'k', minTxid: '100', maxId: '9' },
    { objectType: 'items', objectId: 'j', minTxid: '101', maxId: '8' }
  ])
})

t.test("a key's groups run in change-log id order; an event's observers keep their order", async (t) => {
  const groups = [group('a', 'k', '9'), group('b', 'k', '9'), group('a', 'k', '7'), group('a', 'j', '8')]
  sortByChange(groups)
  t.same(groups.map((g) => `${g.observer.id}:${g.event.change_log_id}`), ['a:7', 'a:8', 'a:9', 'b:9'])
})

t.test('a group waits for the furthest unread change of its key made before it; others run', async (t) => {
  const groups = [group('a', 'k', '9'), group('b', 'k', '9'), group('a', 'k', '7'), group('a', 'j', '8')]
  parkBehind(groups, [
    { objectType: 'items', objectId: 'k', txid: '103', id: '5' },
    { objectType: 'items', objectId: 'k', txid: '102', id: '6' },
    // made after id 9: nothing to wait for
    { objectType: 'items', objectId: 'k', txid: '104', id: '12' },
    // same key name, another entity type: not this key
    { objectType: 'other', objectId: 'j', txid: '105', id: '3' }
  ], txids, 'main')
  t.same(groups.map((g) => [g.parked, g.waitsFor]), [
    [true, { listenerId: 'main', txid: '103', id: '5' }],
    [true, { listenerId: 'main', txid: '103', id: '5' }],
    [true, { listenerId: 'main', txid: '103', id: '5' }],
    [false, undefined]
  ])
})

t.test('a change with a lower txid was read before: nothing waits for it', async (t) => {
  const groups = [group('a', 'k', '7')]
  parkBehind(groups, [{ objectType: 'items', objectId: 'k', txid: '101', id: '5' }], txids, 'main')
  t.same([groups[0].parked, groups[0].waitsFor], [false, undefined])
})

t.test("batches start their groups in read order, even when a later batch's check ends first", async (t) => {
  const order = new InReadOrder()
  const started: string[] = []
  let endFirstCheck = (): void => {}
  const firstCheck = new Promise<void>((resolve) => { endFirstCheck = resolve })
  const first = order.start(firstCheck, () => { started.push('first'); return [Promise.resolve(1)] })
  const second = order.start(Promise.resolve(), () => { started.push('second'); return [Promise.resolve(2)] })
  await new Promise((resolve) => setImmediate(resolve))
  t.same(started, [], 'the second waits for the first')
  endFirstCheck()
  t.same(await Promise.all([first, second]), [[1], [2]])
  t.same(started, ['first', 'second'])
})

t.test('a failed check fails its batch only, even when it fails while an earlier batch waits; the next one starts', async (t) => {
  const order = new InReadOrder()
  let endFirstCheck = (): void => {}
  const first = order.start(new Promise<void>((resolve) => { endFirstCheck = resolve }), () => [Promise.resolve(1)])
  const failed = order.start(Promise.reject(new Error('check failed')), () => [Promise.resolve(2)])
  // a rejection nobody handled yet would end the process here
  await new Promise((resolve) => setImmediate(resolve))
  endFirstCheck()
  t.same(await first, [1])
  await t.rejects(failed, /check failed/)
  t.same(await order.start(undefined, () => [Promise.resolve(3)]), [3])
})
