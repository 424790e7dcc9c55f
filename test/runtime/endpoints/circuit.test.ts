// Endpoint protection's pure core: the opening rule, the cool-down, the gate and a probe's verdict.
import t from 'tap'
import { CIRCUIT_DEFAULTS, disableDue, gate, nextCoolDown, probeVerdict, shouldOpen, waitsForCircuit, type EndpointState } from '../../../lib/runtime/endpoints/circuit.js'

const state = (over: Partial<EndpointState>): EndpointState =>
  ({ endpoint: 'http://x:80', state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 30_000, paused_until: null, ...over })

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
  t.same(gate(state({ state: 'half_open', next_probe_at: new Date(now) }), now), { go: true, probe: true }, 'a probe given up on: the next one goes')
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

t.test('every probe resolves its circuit: an answer closes or reopens it, no answer waits for the next probe', async (t) => {
  const failed = (over: object) => ({ ok: false as const, kind: 'permanent' as const, code: 'X', message: 'x', ...over })
  t.equal(probeVerdict({ ok: true, statusCode: 200 }), 'close')
  t.equal(probeVerdict(failed({ code: 'HTTP_400', statusCode: 400 })), 'close', 'a 4xx: the endpoint is up')
  t.equal(probeVerdict(failed({ code: 'REDIRECT', statusCode: 302 })), 'close', 'a 3xx too')
  t.equal(probeVerdict(failed({ kind: 'transient', code: 'HTTP_503', statusCode: 503 })), 'reopen')
  t.equal(probeVerdict(failed({ kind: 'transient', code: 'HTTP_429', statusCode: 429 })), 'reopen')
  t.equal(probeVerdict(failed({ kind: 'transient', code: 'TIMEOUT', timedOut: true })), 'reopen')
  t.equal(probeVerdict(failed({ kind: 'transient', code: 'NETWORK' })), 'reopen')
  t.equal(probeVerdict(failed({ kind: 'transient', code: 'CANCELLED' })), 'none', 'a shutdown')
  t.equal(probeVerdict(failed({ kind: 'transient', code: 'EXCEPTION' })), 'none', 'a throw')
  t.equal(probeVerdict(failed({ code: 'SSRF_BLOCKED' })), 'none', 'refused before sending')
})

t.test('what waits for a circuit or a pause is due when it closes; what waits for a slot or its rate is not', async (t) => {
  t.same(['ENDPOINT_OPEN', 'ENDPOINT_PAUSED', 'ENDPOINT_BUSY', 'ENDPOINT_RATE_LIMITED'].map(waitsForCircuit), [true, true, false, false])
})
