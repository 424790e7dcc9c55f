// The loops' wake-ups: wake() ends a sleep at once; wakeBy(at) only a sleep that would last past `at`.
import t from 'tap'
import { Waker } from '../../lib/runtime/waker.js'

const never = new AbortController().signal
// the sleeps' timers do not keep a process up: this does, while the tests run
const keepAlive = setInterval(() => {}, 1000)
t.teardown(() => { clearInterval(keepAlive) })

const elapsed = async (sleep: Promise<void>): Promise<number> => {
  const started = performance.now()
  await sleep
  return performance.now() - started
}

t.test('wakeBy ends a sleep that would last past the due time, not one that ends before it', async (t) => {
  const waker = new Waker()
  const short = waker.sleep(50, never)
  waker.wakeBy(Date.now() + 60_000)
  t.ok(await elapsed(short) >= 40, 'a 50 ms sleep runs out by itself: work due in a minute does not wake it')
  const long = waker.sleep(60_000, never)
  waker.wakeBy(Date.now())
  t.ok(await elapsed(long) < 5000, 'a one-minute sleep ends at once for work due now')
})

t.test('work due while awake shortens the next sleep to its due time; wake() still ends it at once', async (t) => {
  const waker = new Waker()
  waker.wakeBy(Date.now() + 100)
  const ms = await elapsed(waker.sleep(60_000, never))
  t.ok(ms >= 50 && ms < 5000, `the next sleep ends when that work is due (${Math.round(ms)} ms)`)
  waker.wake()
  t.ok(await elapsed(waker.sleep(60_000, never)) < 5000, 'wake() while awake ends the next sleep at once')
})
