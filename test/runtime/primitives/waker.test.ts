// The loops' wake-ups: wake() ends a sleep at once (or the next one); wakeIfAsleep() only a current one;
// wakeBy(at) only a sleep that would last past `at`.
import t from 'tap'
import { Waker } from '../../../lib/runtime/primitives/waker.js'

const never = new AbortController().signal
// the sleeps' timers do not keep a process up: this does, while the tests run
const keepAlive = setInterval(() => {}, 1000)
t.teardown(() => { clearInterval(keepAlive) })

/** A sleep, and whether it has ended yet. */
function watched (sleep: Promise<void>): { ended: () => boolean, sleep: Promise<void> } {
  let ended = false
  return { ended: () => ended, sleep: sleep.then(() => { ended = true }) }
}
// a turn of the event loop: a sleep that was ended meanwhile has resolved by then
const turn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('wakeBy ends a sleep that would last past the due time, not one that ends before it', async (t) => {
  const waker = new Waker()
  const short = watched(waker.sleep(50, never))
  waker.wakeBy(Date.now() + 60_000)
  await turn()
  t.notOk(short.ended(), 'a 50 ms sleep goes on: work due in a minute does not wake it')
  await short.sleep
  const long = watched(waker.sleep(60_000, never))
  waker.wakeBy(Date.now())
  await turn()
  t.ok(long.ended(), 'a one-minute sleep ends at once for work due now')
})

t.test('work due while awake shortens the next sleep to its due time; wake() still ends it at once', async (t) => {
  const waker = new Waker()
  waker.wakeBy(Date.now() + 100)
  const next = watched(waker.sleep(60_000, never))
  await turn()
  t.notOk(next.ended(), 'the next sleep does not end at once')
  const started = Date.now()
  await next.sleep
  t.ok(Date.now() - started < 30_000, 'it ended when that work was due, not after its minute')
  waker.wake()
  const woken = watched(waker.sleep(60_000, never))
  await turn()
  t.ok(woken.ended(), 'wake() while awake ends the next sleep at once')
})

t.test('wakeIfAsleep ends a sleep, and leaves an awake loop to decide for itself', async (t) => {
  const waker = new Waker()
  const asleep = watched(waker.sleep(60_000, never))
  waker.wakeIfAsleep()
  await turn()
  t.ok(asleep.ended(), 'a sleep ends at once')
  waker.wakeIfAsleep()
  const next = watched(waker.sleep(50, never))
  await turn()
  t.notOk(next.ended(), 'the next sleep, begun after it, goes on')
  await next.sleep
})
