// Endpoint protection's pure core: the rolling window, the opening rule, the cool-down and the gate.
import t from 'tap'
import { CIRCUIT_DEFAULTS, RollingWindow, disableDue, gate, nextCoolDown, shouldOpen, type EndpointState } from '../../../lib/runtime/endpoints/circuit.js'

const state = (over: Partial<EndpointState>): EndpointState =>
  ({ endpoint: 'http://x:80', state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 30_000, paused_until: null, ...over })

t.test('the window counts the last 60 s only', async (t) => {
  const window = new RollingWindow(60_000)
  for (let i = 0; i < 8; i++) window.record(1_000 + i, i < 6)
  t.same(window.counts(2_000), { attempts: 8, failures: 6 })
  window.record(30_000, true)
  t.same(window.counts(30_500), { attempts: 9, failures: 7 })
  t.same(window.counts(61_500), { attempts: 1, failures: 1 }, 'the first second fell out')
  t.same(window.counts(200_000), { attempts: 0, failures: 0 }, 'a long silence empties it')
  window.record(200_001, false)
  t.same(window.counts(200_002), { attempts: 1, failures: 0 })
})

t.test('opens at 70 % transient failures over at least 10 attempts', async (t) => {
  t.equal(shouldOpen({ attempts: 9, failures: 9 }, CIRCUIT_DEFAULTS), false, 'too few attempts')
  t.equal(shouldOpen({ attempts: 10, failures: 6 }, CIRCUIT_DEFAULTS), false)
  t.equal(shouldOpen({ attempts: 10, failures: 7 }, CIRCUIT_DEFAULTS), true)
  t.equal(shouldOpen({ attempts: 100, failures: 69 }, CIRCUIT_DEFAULTS), false)
})

t.test('the cool-down doubles up to its ceiling', async (t) => {
  const steps = [30_000]
  while (steps.length < 7) steps.push(nextCoolDown(steps[steps.length - 1], CIRCUIT_DEFAULTS))
  t.same(steps, [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000])
})

t.test('the gate: closed goes, open waits for its probe time, one probe then, paused and disabled wait', async (t) => {
  const now = 1_000_000
  t.same(gate(undefined, now), { go: true, probe: false }, 'an endpoint never seen is closed')
  t.same(gate(state({}), now), { go: true, probe: false })
  t.same(gate(state({ state: 'open', next_probe_at: new Date(now + 5) }), now), { go: false, until: new Date(now + 5), reason: 'open' })
  t.same(gate(state({ state: 'open', next_probe_at: new Date(now) }), now), { go: true, probe: true })
  t.same(gate(state({ state: 'half_open', next_probe_at: new Date(now + 50) }), now), { go: false, until: new Date(now + 50), reason: 'probing' })
  t.same(gate(state({ paused_until: new Date(now + 9) }), now), { go: false, until: new Date(now + 9), reason: 'paused' })
  t.same(gate(state({ paused_until: new Date(now - 1) }), now), { go: true, probe: false }, 'a pause that ended')
  t.match(gate(state({ state: 'disabled' }), now), { go: false, reason: 'disabled' })
})

t.test('disabled once open for disableAfterMs', async (t) => {
  const opened = new Date(0)
  t.equal(disableDue(state({ state: 'open', opened_at: opened }), CIRCUIT_DEFAULTS.disableAfterMs - 1, CIRCUIT_DEFAULTS), false)
  t.equal(disableDue(state({ state: 'open', opened_at: opened }), CIRCUIT_DEFAULTS.disableAfterMs, CIRCUIT_DEFAULTS), true)
  t.equal(disableDue(state({ state: 'closed', opened_at: opened }), CIRCUIT_DEFAULTS.disableAfterMs, CIRCUIT_DEFAULTS), false)
})
