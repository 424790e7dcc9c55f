// What an attempt's result owes the database, worked out without one: the log row's times, the
// retry it schedules, or the dead letter.
import t from 'tap'
import { DEFAULT_RETRY_CONFIG, type Observer, type ObserverEvent } from '../../../lib/model.js'
import type { AttemptResult } from '../../../lib/runtime/delivery/attempt.js'
import { settle } from '../../../lib/runtime/delivery/settling.js'

const event = {
  event_id: '7d4c6f3e-7d6a-4a39-9a43-0f9b1c3f2a10', event_type: 'INSERT', entity_type: 'order', entity_id: '1', change_log_id: '1'
} as unknown as ObserverEvent
const observer = { id: '2f1e0c4b-5a7d-4e8f-9b1a-3c2d4e5f6a7b', name: 'probe' } as unknown as Observer
const retry = { ...DEFAULT_RETRY_CONFIG, backoff_strategy: 'fixed' as const, initial_delay_ms: 10, max_delay_ms: 10, jitter: false }

function result (outcome: AttemptResult['outcome'], startedMs: number, durationMs: number): AttemptResult {
  return { delivery: { event, observer, retry, actionIndex: 0, action: { type: 'webhook' }, attempt: 1, origin: 'change_log' }, outcome, startedAt: new Date(startedMs), durationMs }
}
const failed503 = { ok: false as const, kind: 'transient' as const, code: 'HTTP_503', message: 'Service Unavailable', statusCode: 503 }

t.test('a retry is due its delay after the logged end, even when the clock read at settling is a rounding behind it', async (t) => {
  // started at 100 (truncated), ran 0.6 ms rounded to 1: logged end 101, while the batch settled at 100
  const { logs, retries } = settle([result(failed503, 100, 1)], new Date(100))
  const log = logs[0]
  t.equal(log.started_ms + log.duration_ms, 101)
  t.equal(log.next_retry_ms, 111, 'next_retry_at - completed_at is the 10 ms the policy chose')
  t.equal(retries[0].due_at.getTime(), 111, 'the scheduled retry agrees with the log row')
  t.equal(retries[0].attempt_number, 2)
})

t.test('a batch that settled long after the attempt ended counts the delay from when it settled', async (t) => {
  const { logs } = settle([result(failed503, 100, 1)], new Date(500))
  t.equal(logs[0].next_retry_ms, 510)
})

t.test('a cancelled attempt is due again at once, as the same attempt; a permanent failure is dead-lettered', async (t) => {
  const cancelled = { ok: false as const, kind: 'transient' as const, code: 'CANCELLED', message: 'interrupted by shutdown; rescheduled' }
  const rejected = { ok: false as const, kind: 'permanent' as const, code: 'HTTP_400', message: 'Bad Request', statusCode: 400 }
  const progress = settle([result(cancelled, 100, 5), result(rejected, 100, 5)], new Date(200))
  t.match(progress.logs, [{ status: 'cancelled', next_retry_ms: 200 }, { status: 'failed', error_code: 'HTTP_400' }])
  t.equal(progress.logs[1].next_retry_ms, undefined, 'a dead-lettered attempt names no next retry')
  t.equal(progress.retries.length, 1)
  t.equal(progress.retries[0].attempt_number, 1)
  t.equal(progress.deadLetters.length, 1)
})
