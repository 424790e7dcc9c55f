import t from 'tap'
import { Compile } from 'typebox/compile'
import { DEFAULT_RETRY_CONFIG, type RetryConfig } from '../../../lib/model.js'
import { parseRetryAfter } from '../../../lib/actions/retry-after.js'
import {
  MAX_RETRY_DELAY_MS, RetryConfigSchema, checkRetryConfig, nextRetryDelay, resolveRetryConfig
} from '../../../lib/runtime/delivery/retry-policy.js'

const config = (over: Partial<RetryConfig> = {}): RetryConfig =>
  ({ max_attempts: 10, backoff_strategy: 'exponential', initial_delay_ms: 1000, max_delay_ms: 60_000, jitter: false, ...over })
const delays = (c: RetryConfig, opts = {}) =>
  Array.from({ length: c.max_attempts }, (_, i) => nextRetryDelay(c, i + 1, opts))

t.test('exponential: initial × 2^(attempt-1), capped by max_delay_ms', async t => {
  t.same(delays(config()), [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000, null])
})

t.test('linear: initial × attempt', async t => {
  t.same(delays(config({ backoff_strategy: 'linear', max_attempts: 5, max_delay_ms: 3500 })), [1000, 2000, 3000, 3500, null])
})

t.test('fixed: always initial', async t => {
  t.same(delays(config({ backoff_strategy: 'fixed', max_attempts: 4, initial_delay_ms: 250 })), [250, 250, 250, null])
})

t.test('null once the attempt that failed was the last one', async t => {
  t.equal(nextRetryDelay(config({ max_attempts: 1 }), 1), null, 'one attempt means no retry')
  t.equal(nextRetryDelay(config({ max_attempts: 3 }), 2), 2000)
  t.equal(nextRetryDelay(config({ max_attempts: 3 }), 3), null)
  t.equal(nextRetryDelay(config({ max_attempts: 3 }), 7), null)
  t.equal(nextRetryDelay(config({ max_attempts: 3 }), Number.NaN), null)
  t.equal(nextRetryDelay(config({ max_attempts: 3 }), 3, { retryAfterMs: 10 }), null, 'Retry-After does not add attempts')
  t.equal(nextRetryDelay(config(), 0), 1000, 'an attempt below 1 counts as the first')
})

t.test('huge attempt numbers stay at the cap', async t => {
  t.equal(nextRetryDelay(config({ max_attempts: 100, max_delay_ms: 3_600_000 }), 99), 3_600_000)
})

t.test('jitter multiplies by a factor in [0.8, 1.2], and the cap still holds', async t => {
  const c = config({ jitter: true })
  t.equal(nextRetryDelay(c, 2, { random: () => 0 }), 1600, 'random 0 → 0.8×')
  t.equal(nextRetryDelay(c, 2, { random: () => 1 }), 2400, 'random 1 → 1.2×')
  t.equal(nextRetryDelay(c, 2, { random: () => 0.5 }), 2000, 'random 0.5 → 1×')
  t.equal(nextRetryDelay(c, 8, { random: () => 1 }), 60_000, 'never above max_delay_ms')
  t.equal(nextRetryDelay(c, 8, { random: () => 0 }), 48_000, 'retries at the ceiling still spread out')
  t.equal(nextRetryDelay(c, 2, { random: () => 7 }), 2400, 'a random source out of range is clamped')
  t.equal(nextRetryDelay(config(), 2, { random: () => 0 }), 2000, 'no jitter, no spread')
  for (let i = 0; i < 200; i++) {
    const d = nextRetryDelay(c, 3) as number
    t.ok(d >= 3200 && d <= 4800, `Math.random jitter in range: ${d}`)
  }
})

t.test('Retry-After lengthens the wait, above max_delay_ms, up to one hour', async t => {
  const c = config({ jitter: true, max_delay_ms: 10_000 })
  const random = () => 0.5
  t.equal(nextRetryDelay(c, 1, { random, retryAfterMs: 5000 }), 5000, 'longer than the backoff: honoured')
  t.equal(nextRetryDelay(c, 1, { random, retryAfterMs: 200 }), 1000, 'shorter than the backoff: the backoff wins')
  t.equal(nextRetryDelay(c, 1, { random, retryAfterMs: 0 }), 1000)
  t.equal(nextRetryDelay(c, 1, { random, retryAfterMs: 120_000 }), 120_000, 'above max_delay_ms')
  t.equal(nextRetryDelay(c, 1, { random, retryAfterMs: 3_600_000 }), 3_600_000)
  t.equal(nextRetryDelay(c, 1, { random, retryAfterMs: 86_400_000 }), MAX_RETRY_DELAY_MS, 'capped at one hour')
  t.equal(nextRetryDelay(c, 1, { random, retryAfterMs: Number.NaN }), 1000, 'nonsense is ignored')
  t.equal(MAX_RETRY_DELAY_MS, 3_600_000)
})

t.test('parseRetryAfter', async t => {
  const now = new Date('2024-05-01T10:00:00.000Z')
  t.equal(parseRetryAfter('120', now), 120_000, 'delta-seconds')
  t.equal(parseRetryAfter(' 3 ', now), 3000, 'surrounding blanks')
  t.equal(parseRetryAfter('0', now), 0)
  t.equal(parseRetryAfter('1.5', now), 1500, 'fractional seconds')
  t.equal(parseRetryAfter('-5', now), 0, 'negative is now')
  t.equal(parseRetryAfter('Wed, 01 May 2024 10:01:30 GMT', now), 90_000, 'IMF-fixdate')
  t.equal(parseRetryAfter('Wednesday, 01-May-24 10:00:10 GMT', now), 10_000, 'RFC 850 date')
  t.equal(parseRetryAfter('Wed May  1 10:00:05 2024', now), 5000, 'asctime, read as GMT')
  t.equal(parseRetryAfter('Wed, 01 May 2024 09:00:00 GMT', now), 0, 'a past date is now')
  for (const garbage of [undefined, '', 'soon', '1e3', '0x10', 'hello 2020', '2024-05-01T10:01:00Z', 'Wed, 99 May 2024 10:00:00 GMT']) {
    t.equal(parseRetryAfter(garbage, now), undefined, `garbage: ${JSON.stringify(garbage)}`)
  }
})

t.test('resolveRetryConfig', async t => {
  t.same(resolveRetryConfig(null), DEFAULT_RETRY_CONFIG)
  t.same(resolveRetryConfig(undefined), DEFAULT_RETRY_CONFIG)
  t.same(resolveRetryConfig({ max_attempts: 5, jitter: false }), { ...DEFAULT_RETRY_CONFIG, max_attempts: 5, jitter: false })
  t.same(resolveRetryConfig({ max_delay_ms: undefined, initial_delay_ms: 50 }), { ...DEFAULT_RETRY_CONFIG, initial_delay_ms: 50 })
  t.same(resolveRetryConfig({ bogus: 1 } as never), DEFAULT_RETRY_CONFIG, 'unknown keys are not copied')
  const resolved = resolveRetryConfig(null)
  resolved.max_attempts = 99
  t.equal(DEFAULT_RETRY_CONFIG.max_attempts, 3, 'the defaults are not shared')
})

t.test('RetryConfigSchema', async t => {
  const check = Compile(RetryConfigSchema)
  t.ok(check.Check({}), 'everything optional')
  t.ok(check.Check({ max_attempts: 1, backoff_strategy: 'fixed', initial_delay_ms: 10, max_delay_ms: 3_600_000, jitter: false }))
  for (const bad of [{ max_attempts: 0 }, { max_attempts: 101 }, { max_attempts: 1.5 }, { backoff_strategy: 'random' },
    { initial_delay_ms: 9 }, { max_delay_ms: 3_600_001 }, { jitter: 'yes' }, { extra: 1 }]) {
    t.notOk(check.Check(bad), JSON.stringify(bad))
  }
})

t.test('checkRetryConfig', async t => {
  t.equal(checkRetryConfig(null), null)
  t.equal(checkRetryConfig({}), null)
  t.equal(checkRetryConfig({ initial_delay_ms: 500, max_delay_ms: 500 }), null, 'equal is fine')
  t.equal(checkRetryConfig({ initial_delay_ms: 2000, max_delay_ms: 1000 }),
    'retry_config.max_delay_ms (1000) must be greater than or equal to retry_config.initial_delay_ms (2000)')
  t.match(checkRetryConfig({ initial_delay_ms: 120_000 }), /max_delay_ms \(60000\).*initial_delay_ms \(120000\)/,
    'the default max_delay_ms counts')
  t.equal(checkRetryConfig({ max_attempts: 0 }), 'retry_config.max_attempts must be >= 1')
  t.equal(checkRetryConfig({ max_delay_ms: 4_000_000 }), 'retry_config.max_delay_ms must be <= 3600000')
  t.equal(checkRetryConfig({ backoff_strategy: 'random' }), 'retry_config.backoff_strategy must be one of exponential, linear, fixed')
  t.equal(checkRetryConfig({ jitter: 'yes' }), 'retry_config.jitter must be boolean')
  t.equal(checkRetryConfig({ extra: true }), 'retry_config.extra is not an allowed property')
  t.equal(checkRetryConfig('nope'), 'retry_config must be object')
})
