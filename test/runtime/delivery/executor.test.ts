// The executing stage's deadlines and cancellation, with actions that answer, never answer, or
// ignore their cancellation. No database: a registry whose run() is hand-made.
import type { FastifyBaseLogger } from 'fastify'
import t from 'tap'
import type { ActionRegistry } from '../../../lib/actions/registry.js'
import type { ActionContext, ActionOutcome } from '../../../lib/actions/types.js'
import { Cancellation } from '../../../lib/actions/cancellation.js'
import { DEFAULT_RETRY_CONFIG, type Observer, type ObserverEvent } from '../../../lib/model.js'
import type { Delivery } from '../../../lib/runtime/delivery/delivery.js'
import type { Kysely } from 'kysely'
import type { Database } from '../../../lib/db/types.js'
import { EndpointGuard } from '../../../lib/runtime/endpoints/guard.js'
import { Executor } from '../../../lib/runtime/delivery/executor.js'
import { Limiter } from '../../../lib/runtime/delivery/limiter.js'
import type { AttemptResult } from '../../../lib/runtime/delivery/attempt.js'
import { testServices } from '../../helpers/action-context.js'

type Run = (ctx: ActionContext) => Promise<ActionOutcome>

function registryOf (run: Run): ActionRegistry {
  return { services: testServices(), run: async (_event: unknown, _config: unknown, ctx: ActionContext) => await run(ctx) } as unknown as ActionRegistry
}

const executorOf = (run: Run): Executor => new Executor(registryOf(run), 32)

/** One delivery through the executor (its concurrency bound, no endpoint guard), as a promise of its result. */
const attemptOne = async (executor: Executor, delivery: Delivery): Promise<AttemptResult> => (await executor.runAll([delivery]))[0]

const event: ObserverEvent = {
  event_id: '7d4c6f3e-7d6a-4a39-9a43-0f9b1c3f2a10',
  event_type: 'INSERT',
  entity_type: 'order',
  entity_id: '1',
  tenant_id: null,
  user_id: null,
  timestamp: new Date(0).toISOString(),
  data: {},
  before: null,
  changes: null,
  trace_id: null,
  change_log_id: '1'
}

function delivery (timeoutMs: number, actionIndex = 0): Delivery {
  const observer = { id: '2f1e0c4b-5a7d-4e8f-9b1a-3c2d4e5f6a7b', name: 'probe', timeout_ms: timeoutMs } as unknown as Observer
  return { event, observer, retry: DEFAULT_RETRY_CONFIG, actionIndex, action: { type: 'probe' }, attempt: 1, origin: 'change_log' }
}

const never = async (): Promise<ActionOutcome> => await new Promise<ActionOutcome>(() => {})
const ok: ActionOutcome = { ok: true, statusCode: 200 }

t.test('an action that ignores its cancellation still ends at its timeout, and its signal aborts', async (t) => {
  let seen: ActionContext | undefined
  const { outcome } = await attemptOne(executorOf(async (ctx) => { seen = ctx; return await never() }), delivery(40))
  t.same(outcome, { ok: false, kind: 'transient', code: 'TIMEOUT', message: 'no answer within 40 ms', timedOut: true })
  t.equal(seen?.signal.aborted, true, 'the signal read afterwards is aborted')
  t.equal((seen?.signal.reason as Error).name, 'TimeoutError')
})

t.test('each attempt ends at its own deadline, whatever the order they started in', async (t) => {
  const executor = executorOf(never)
  const ended: number[] = []
  const slow = attemptOne(executor, delivery(120)).then((r) => { ended.push(120); return r })
  const fast = attemptOne(executor, delivery(30)).then((r) => { ended.push(30); return r })
  const results = await Promise.all([slow, fast])
  t.same(ended, [30, 120], 'the shorter timeout ended first')
  t.same(results.map((r) => r.outcome.ok === false && r.outcome.code), ['TIMEOUT', 'TIMEOUT'])
})

t.test('an attempt that answered is never cancelled by its deadline', async (t) => {
  const contexts: ActionContext[] = []
  let answer: Run = async (ctx) => { contexts.push(ctx); return ok }
  const executor = executorOf(async (ctx) => await answer(ctx))
  const first = await attemptOne(executor, delivery(30))
  t.same(first.outcome, ok)
  // a later attempt with the same timeout: once it timed out, the first one's deadline has passed too
  answer = never
  const second = await attemptOne(executor, delivery(30))
  t.match(second.outcome, { code: 'TIMEOUT' })
  t.equal(contexts[0].cancellation?.cancelled, false)
})

t.test('interruptAll ends every attempt in flight as CANCELLED and refuses new ones', async (t) => {
  const cancelled: Array<Error | undefined> = []
  let started = 0
  const executor = executorOf(async (ctx) => {
    started++
    ctx.cancellation?.listen((reason) => cancelled.push(reason))
    return await never()
  })
  const running = [attemptOne(executor, delivery(60_000)), attemptOne(executor, delivery(30_000, 1))]
  await t.resolveMatch(new Promise((resolve) => setImmediate(() => resolve(started))), 2)
  executor.interruptAll(new Error('shutdown'))
  const results = await Promise.all(running)
  t.same(results.map((r) => r.outcome.ok === false && r.outcome.code), ['CANCELLED', 'CANCELLED'])
  t.same(cancelled.map((e) => e?.message), ['shutdown', 'shutdown'], 'each action was told')
  t.match((await attemptOne(executor, delivery(1000))).outcome, { code: 'CANCELLED' })
  t.equal(started, 2, 'no new attempt ran after the interruption')
})

t.test('an action that throws is a transient EXCEPTION', async (t) => {
  t.match((await attemptOne(executorOf(async () => { throw new Error('boom') }), delivery(1000))).outcome,
    { ok: false, kind: 'transient', code: 'EXCEPTION', message: 'boom' })
  const broken = { services: testServices(), run: () => { throw new Error('registry broke') } } as unknown as ActionRegistry
  t.match((await attemptOne(new Executor(broken, 1), delivery(1000))).outcome,
    { ok: false, kind: 'transient', code: 'EXCEPTION', message: 'registry broke' }, 'even a synchronous throw before the action ends as an outcome')
})

t.test('Cancellation: the signal is made on demand and follows; the listener is told once', async (t) => {
  const early = new Cancellation()
  const heard: string[] = []
  early.listen((reason) => heard.push(reason.message))
  early.cancel(new Error('first'))
  early.cancel(new Error('second'))
  t.same(heard, ['first'])
  t.equal(early.signal.aborted, true, 'a signal made after the cancellation is already aborted')
  t.equal((early.signal.reason as Error).message, 'first')
  const late = new Cancellation()
  const signal = late.signal
  t.equal(signal.aborted, false)
  late.cancel(new Error('now'))
  t.equal(signal.aborted, true)
  late.listen((reason) => heard.push(reason.message))
  t.same(heard, ['first', 'now'], 'listening after the cancellation hears it at once')
  const removed = new Cancellation()
  removed.listen(() => heard.push('removed'))
  removed.listen(undefined)
  removed.cancel(new Error('x'))
  t.same(heard, ['first', 'now'], 'a removed listener is not called')
})

t.test('Limiter: at most `limit` at once, started in submission order; each release starts the oldest waiting', async (t) => {
  const limiter = new Limiter(2)
  let active = 0
  let most = 0
  const order: number[] = []
  const done = await new Promise<number[]>((resolve) => {
    for (let i = 0; i < 6; i++) {
      limiter.acquire((release) => {
        order.push(i)
        active++
        most = Math.max(most, active)
        setImmediate(() => {
          active--
          release()
          if (order.length === 6 && active === 0) resolve(order)
        })
      })
    }
  })
  t.same(done, [0, 1, 2, 3, 4, 5])
  t.equal(most, 2)
  // every slot came back: two more start at once
  const started: number[] = []
  limiter.acquire(() => { started.push(1) })
  limiter.acquire(() => { started.push(2) })
  limiter.acquire(() => { started.push(3) })
  t.same(started, [1, 2], 'two slots free, the third waits')
})

t.test('a throw in the endpoint bookkeeping ends the delivery as an EXCEPTION, logged with its ids; the slot is given back', async (t) => {
  const errors: Array<{ obj: Record<string, unknown>, msg: string }> = []
  const log = { error: (obj: Record<string, unknown>, msg: string) => errors.push({ obj, msg }), warn () {}, debug () {} } as unknown as FastifyBaseLogger
  const registry = { ...registryOf(async () => ok), endpointOf: () => 'http://sink.test' } as unknown as ActionRegistry
  const boom = (): never => { throw new Error('bookkeeping broke') }
  async function deliverThrough (parts: Partial<Record<'admit' | 'record' | 'leave', (...args: unknown[]) => unknown>>): Promise<{ outcome: ActionOutcome, left: Array<number | undefined> }> {
    const left: Array<number | undefined> = []
    // a real guard (no state, no rate limit: it needs no database), its inner steps made to fail in turn
    const guard = new EndpointGuard(undefined as unknown as Kysely<Database>, log, false, 4, 200)
    // as if the shared state had been read, and found empty
    ;(guard as unknown as { states: { loaded: boolean } }).states.loaded = true
    const inner = guard as unknown as Record<'admit' | 'leave', (...args: unknown[]) => unknown>
    const circuits = guard.circuits as unknown as Record<'record', (...args: unknown[]) => unknown>
    const leave = inner.leave.bind(guard)
    inner.leave = (endpoint: unknown, attemptMs: unknown) => {
      left.push(attemptMs as number | undefined)
      return (parts.leave ?? leave)(endpoint, attemptMs)
    }
    if (parts.admit !== undefined) inner.admit = parts.admit
    if (parts.record !== undefined) circuits.record = parts.record
    const [result] = await new Executor(registry, 4, undefined, log, guard).runAll([delivery(1000)])
    return { outcome: result.outcome, left }
  }
  const exception = { ok: false, kind: 'transient', code: 'EXCEPTION', message: 'bookkeeping broke' }

  const recorded = await deliverThrough({ record: boom })
  t.match(recorded.outcome, exception, 'recording the outcome threw')
  t.equal(recorded.left.length, 1, 'the slot was given back once')
  t.type(recorded.left[0], 'number', 'with the attempt it made')

  for (const admit of [boom, async () => await Promise.reject(new Error('bookkeeping broke'))]) {
    const refused = await deliverThrough({ admit })
    t.match(refused.outcome, exception, 'asking the gate threw or rejected')
    t.same(refused.left, [undefined], 'the slot was given back, no attempt made')
  }

  const leaving = await deliverThrough({ leave: boom })
  t.match(leaving.outcome, exception, 'giving the slot back threw')
  t.equal(errors.length, 4, 'each failure logged once')
  t.match(errors[3], { msg: 'endpoint bookkeeping failed', obj: { event_id: event.event_id, observer_id: delivery(0).observer.id, endpoint: 'http://sink.test' } })
})
