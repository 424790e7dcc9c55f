import t from 'tap'
import { SecondRing } from '../../../lib/runtime/primitives/second-ring.js'

t.test('counts per second, and forgets a second one window later', async (t) => {
  const ring = new SecondRing(10)
  ring.add(100, 2, 0)
  ring.add(100, 1, 1)
  ring.add(101, 0, 0)
  ring.setLag(103, 40, 1.5)
  t.same(ring.between(95, 105), [
    { second: 100, delivered: 3, failed: 1, lagEvents: null, lagSeconds: null },
    { second: 103, delivered: 0, failed: 0, lagEvents: 40, lagSeconds: 1.5 }
  ], 'an empty second takes no slot')
  ring.add(110, 5, 0)
  t.same(ring.between(100, 110).map((s) => [s.second, s.delivered]), [[103, 0], [110, 5]], 'second 110 took the slot of 100')
  t.same(ring.between(111, 125), [], 'nothing after')
  t.same(ring.between(0, 115).map((s) => s.second), [110], 'only the window before the end asked for')
  t.same(ring.between(0, 120), [], 'second 110 is a whole window before 120')
})

t.test('the copies it returns are the caller\'s', async (t) => {
  const ring = new SecondRing(5)
  ring.add(7, 1, 0)
  ring.between(0, 10)[0].delivered = 99
  t.equal(ring.between(0, 10)[0].delivered, 1)
})
