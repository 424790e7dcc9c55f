import t from 'tap'
import type { ActionOutcome } from '../../../lib/actions/types.js'
import { EndpointSlots, MAX_SPREAD_MS } from '../../../lib/runtime/endpoints/slots.js'

const never = (): void => {}
/** how long the read path lets a delivery hold its batch (the executor's HANDOVER_MS) */
const HOLD_MS = 200

t.test('at most maxInFlight per endpoint, the rest started in order as slots free; other endpoints unaffected', async (t) => {
  const slots = new EndpointSlots(2, HOLD_MS)
  const started: string[] = []
  for (const name of ['a1', 'a2', 'a3', 'a4']) t.equal(slots.enter('a', true, () => started.push(name), never), undefined)
  slots.enter('b', true, () => started.push('b1'), never)
  t.same(started, ['a1', 'a2', 'b1'])
  t.equal(slots.inFlight('a'), 2)
  slots.leave('a', 5)
  t.same(started, ['a1', 'a2', 'b1', 'a3'])
  for (let i = 0; i < 3; i++) slots.leave('a', 5)
  t.same(started, ['a1', 'a2', 'b1', 'a3', 'a4'])
  t.equal(slots.inFlight('a'), 0)
})

t.test('a slow endpoint: the read path always waits durably (what it queued too); a re-delivery takes a slot, or queues until the wait would be long', async (t) => {
  let now = 1_000_000
  const slots = new EndpointSlots(4, HOLD_MS, () => now)
  const refused: ActionOutcome[] = []
  for (let i = 0; i < 4; i++) slots.enter('slow', true, never, never)
  slots.leave('slow', 2000)
  const busy = slots.enter('slow', true, never, never)
  t.match(busy, { ok: false, kind: 'transient', code: 'ENDPOINT_BUSY' })
  t.equal((busy as { deferUntil: Date }).deferUntil.getTime(), now + 500, 'due when a slot should be free (4 slots, 2 s each): even with one free now, the read path does not take it')
  t.equal(slots.enter('slow', false, never, never), undefined, 'a re-delivery takes the free slot')
  t.equal(slots.enter('slow', false, never, (o) => refused.push(o)), undefined, 'a re-delivery queues: a slot within 0.5 s')
  t.equal(slots.enter('slow', false, never, (o) => refused.push(o)), undefined, 'and within 1 s')
  t.match(slots.enter('slow', false, never, never), { code: 'ENDPOINT_BUSY' }, 'the next would wait too long')
  t.same(refused, [], 'queued re-deliveries stay queued')

  // a new endpoint, stuck: no slot freed for SLOW_MS while full; what the read path queued meanwhile spills
  const stuck = new EndpointSlots(1, HOLD_MS, () => now)
  stuck.enter('s', true, never, never)
  const spilled: ActionOutcome[] = []
  t.equal(stuck.enter('s', true, never, (o) => spilled.push(o)), undefined, 'queued: nothing known yet')
  t.equal(stuck.enter('s', false, never, never), undefined, 'a re-delivery queued too')
  now += 300
  t.equal(stuck.enter('s', true, never, (o) => spilled.push(o)), undefined, 'still queued after 300 ms: its first answer may be slow (a cold start)')
  t.same(spilled, [], 'nothing spilled yet')
  now += 300
  t.match(stuck.enter('s', true, never, never), { code: 'ENDPOINT_BUSY' })
  t.match(spilled, [{ code: 'ENDPOINT_BUSY' }, { code: 'ENDPOINT_BUSY' }], 'the queued read-path deliveries wait durably now')
})

t.test('a fast endpoint never waits durably, and one stall does not make it slow', async (t) => {
  const fast = new EndpointSlots(1, HOLD_MS, () => 0)
  fast.enter('fast', true, never, never)
  fast.leave('fast', 2)
  fast.enter('fast', true, never, never)
  for (let i = 0; i < 1000; i++) t.equal(fast.enter('fast', true, never, never), undefined)
  const stalled = new EndpointSlots(1, HOLD_MS, () => 0)
  stalled.enter('e', true, never, never)
  stalled.leave('e', 5000)
  stalled.enter('e', true, never, never)
  stalled.leave('e', 2)
  stalled.enter('e', true, never, never)
  for (let i = 0; i < 100; i++) t.equal(stalled.enter('e', true, never, never), undefined)
})

t.test('what waits for a slow endpoint is spread over the time it takes to answer, at most MAX_SPREAD_MS ahead', async (t) => {
  const now = 1_000_000
  const slots = new EndpointSlots(4, HOLD_MS, () => now)
  for (let i = 0; i < 4; i++) slots.enter('slow', true, never, never)
  slots.leave('slow', 2000)
  const due = (): number => ((slots.enter('slow', true, never, never) as { deferUntil: Date }).deferUntil.getTime() - now)
  t.same([due(), due(), due()], [500, 1000, 1500], 'one slot\'s share of 2 s apart (4 slots)')
  for (let i = 0; i < 100; i++) due()
  t.equal(due(), MAX_SPREAD_MS, 'no further than MAX_SPREAD_MS: beyond that they are looked at again then')
})

t.test('an endpoint that answers quickly again after deliveries were sent to wait for it says so once, and spreads from now after', async (t) => {
  let now = 1_000_000
  const recovered: string[] = []
  const slots = new EndpointSlots(2, HOLD_MS, () => now, (endpoint) => recovered.push(endpoint))
  slots.enter('e', true, never, never)
  slots.enter('e', true, never, never)
  slots.leave('e', 2000)
  const due = (): number => ((slots.enter('e', true, never, never) as { deferUntil: Date }).deferUntil.getTime() - now)
  for (let i = 0; i < 20; i++) due()
  t.equal(due(), 21_000, 'the waits spread a slot\'s share of 2 s apart (2 slots)')
  slots.leave('e', 1500)
  t.same(recovered, [], 'a slow answer changes nothing')
  now += 100
  slots.leave('e', 3)
  t.same(recovered, ['e'], 'a quick answer: what waits for it may go now')
  slots.enter('e', true, never, never)
  slots.leave('e', 4)
  t.same(recovered, ['e'], 'told once: nothing waits any more')
})
