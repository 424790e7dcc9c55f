import t from 'tap'
import { EndpointSlots } from '../../lib/runtime/endpoint-slots.js'

t.test('at most maxInFlight per endpoint, the rest started in order as slots free; other endpoints unaffected', async (t) => {
  const slots = new EndpointSlots(2)
  const started: string[] = []
  for (const name of ['a1', 'a2', 'a3', 'a4']) t.equal(slots.enter('a', () => started.push(name)), undefined)
  slots.enter('b', () => started.push('b1'))
  t.same(started, ['a1', 'a2', 'b1'])
  t.equal(slots.inFlight('a'), 2)
  slots.leave('a', 5)
  t.same(started, ['a1', 'a2', 'b1', 'a3'])
  slots.leave('a', 5)
  slots.leave('a', 5)
  slots.leave('a', 5)
  t.same(started, ['a1', 'a2', 'b1', 'a3', 'a4'])
  t.equal(slots.inFlight('a'), 0)
})

t.test('a slow endpoint\'s long queue waits durably instead (no attempt), due when a slot should be free; a fast one never does', async (t) => {
  const now = 1_000_000
  const slots = new EndpointSlots(1, () => now)
  slots.enter('slow', () => {})
  slots.leave('slow', 2000)
  slots.enter('slow', () => {})
  const refused = slots.enter('slow', () => {})
  t.match(refused, { ok: false, kind: 'transient', code: 'ENDPOINT_BUSY' })
  t.equal((refused as { deferUntil: Date }).deferUntil.getTime(), now + 2000)
  const fast = new EndpointSlots(1, () => now)
  fast.enter('fast', () => {})
  fast.leave('fast', 2)
  fast.enter('fast', () => {})
  for (let i = 0; i < 1000; i++) t.equal(fast.enter('fast', () => {}), undefined)
})

t.test('one stall does not make an endpoint slow: once its answers are quick again, nothing waits durably', async (t) => {
  const slots = new EndpointSlots(1, () => 0)
  slots.enter('e', () => {})
  slots.leave('e', 5000)
  slots.enter('e', () => {})
  slots.leave('e', 2)
  slots.enter('e', () => {})
  for (let i = 0; i < 100; i++) t.equal(slots.enter('e', () => {}), undefined)
})
