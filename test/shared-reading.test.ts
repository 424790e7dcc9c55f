// SharedReading: one read per period, shared by concurrent callers; a failure is not kept.
import t from 'tap'
import { SharedReading } from '../lib/shared-reading.js'

t.test('callers within the period get the last value; concurrent callers share one read', async (t) => {
  let now = 1000
  let reads = 0
  let release: (() => void) | undefined
  const reading = new SharedReading(2000, async () => {
    reads++
    await new Promise<void>((resolve) => { release = resolve })
    return reads
  }, () => now)
  const together = [reading.get(), reading.get(), reading.get()]
  release?.()
  t.same(await Promise.all(together), [1, 1, 1], 'three callers, one read')
  now += 1999
  t.equal(await reading.get(), 1, 'still within the period')
  now += 1
  const next = reading.get()
  release?.()
  t.equal(await next, 2, 'read again once the period is over')
  t.equal(reads, 2)
})

t.test('a failed read reaches each of its waiters and is not kept', async (t) => {
  let fail = true
  const reading = new SharedReading(60_000, async () => {
    if (fail) throw new Error('database down')
    return 'ok'
  })
  const both = await Promise.allSettled([reading.get(), reading.get()])
  t.same(both.map((r) => r.status), ['rejected', 'rejected'])
  fail = false
  t.equal(await reading.get(), 'ok', 'the next caller reads again')
})
