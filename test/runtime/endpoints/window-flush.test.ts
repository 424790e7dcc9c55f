// This instance's window counts are added to the shared window by one flush at a time: a flush
// (the endpoints listing's, or a circuit decision's) that comes while another is adding waits for
// it, so what this instance counted is in the totals it reads next, once.
import t from 'tap'
import { SharedWindows } from '../../../lib/runtime/endpoints/window.js'
import { build } from '../../helper.js'

t.test('a flush during a flush waits for it: the totals read after it include every count, once', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const windows = new SharedWindows(app.observers.db, 60_000)
  for (let round = 0; round < 20; round++) {
    const endpoint = `https://hooks${round}.example.com`
    windows.record(endpoint, 0, true)
    windows.record(endpoint, 0, true)
    const first = windows.flush()
    // nothing new counted: this flush has nothing of its own to add, and the totals are read right after it
    await windows.flush()
    const totals = await windows.totals()
    t.same(totals.get(endpoint), { endpoint, generation: 0, attempts: 2, failures: 2 }, `round ${round}: the first flush's counts are in the totals`)
    await first
    // counted while a flush is adding: still counted here, and added by the next one
    windows.record(endpoint, 0, false)
    const third = windows.flush()
    windows.record(endpoint, 0, false)
    t.equal(windows.counts(endpoint, 0).attempts, 4, 'what is being added still counts here')
    await Promise.all([third, windows.flush()])
    t.same((await windows.totals()).get(endpoint), { endpoint, generation: 0, attempts: 4, failures: 2 }, `round ${round}: every count added once`)
  }
})
