// The executor: runs deliveries, at most `concurrency` at once (and, through the endpoint guard,
// within each endpoint's share, circuit and rate limit), each bounded by its deadline and
// interrupted by a shutdown, through the registry's run (the one way to run any action). Never
// throws: every delivery ends in an outcome, an attempt not made included.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { ActionRegistry } from '../../actions/registry.js'
import type { ActionOutcome } from '../../actions/types.js'
import { exception, runAttempt, timeoutOf, type AttemptDeps, type AttemptResult } from './attempt.js'
import { InFlightAttempts } from './deadlines.js'
import type { Delivery } from './delivery.js'
import type { EndpointGuard, Guarded } from '../endpoints/guard.js'
import { Limiter } from './limiter.js'
import type { Metrics } from '../metrics/metrics.js'

/**
 * The longest the read path lets one delivery hold its batch: an attempt running this long is
 * handed over (stored/handover.ts settles it), and one queued this long behind its endpoint's full
 * lane waits durably instead (the guard's slots).
 */
export const HANDOVER_MS = 200

/**
 * How long a claim on a stored delivery lasts unless renewed; its holder renews it every third of
 * this while the work runs (stored/claim-renewal.ts, stored/handover.ts), however long the attempt
 * may take. So a worker that died or froze loses its claims this long after, and any instance runs
 * them again then.
 */
export const CLAIM_MS = 15_000

/** A delivery not attempted (its endpoint is open, paused or busy): it waits, with no attempt used. */
const notMade = (delivery: Delivery, outcome: ActionOutcome, endpoint: string): AttemptResult =>
  ({ delivery, outcome, startedAt: new Date(), durationMs: 0, endpoint })

/**
 * An attempt handed over while still running: its batch commits it as a retry of the same attempt,
 * claimed for CLAIM_MS (renewed while it runs: a crash leaves it to the retry worker then), and
 * stored/handover.ts settles it when `detached` ends.
 */
function handedOver (delivery: Delivery, detached: Promise<AttemptResult>, claim: string): AttemptResult {
  const outcome: ActionOutcome = {
    ok: false,
    kind: 'transient',
    code: 'HANDED_OVER',
    message: 'attempt still in flight; settled when it ends',
    deferUntil: new Date(Date.now() + CLAIM_MS)
  }
  return { delivery, outcome, startedAt: new Date(), durationMs: 0, detached, claim }
}

/** A bug in the bookkeeping around an attempt, as the delivery's outcome. */
const failure = (delivery: Delivery, err: unknown, endpoint: string): AttemptResult =>
  ({ delivery, outcome: exception(err), startedAt: new Date(), durationMs: 0, endpoint })

export class Executor {
  /** the attempts in flight; interrupted at the drain deadline of a shutdown */
  readonly inFlight = new InFlightAttempts()
  private readonly limiter: Limiter
  private readonly attempts: AttemptDeps

  constructor (
    private readonly registry: ActionRegistry,
    concurrency: number,
    private readonly metrics?: Metrics,
    private readonly log?: FastifyBaseLogger,
    /** endpoint protection; without it every delivery goes straight to the concurrency bound */
    readonly endpoints?: EndpointGuard
  ) {
    this.limiter = new Limiter(concurrency)
    this.attempts = { registry, inFlight: this.inFlight, log }
  }

  /**
   * Runs the deliveries within the concurrency bound; resolves once every one has an outcome.
   * With `handover` (the read path's unordered deliveries), an attempt still running after
   * HANDOVER_MS does not hold the rest: it is handed over (its result says so and carries the
   * attempt's real end as `detached`), so its batch commits it as a claimed retry and goes on.
   * `onEnd` is told as each attempt really ends (a handed-over one included).
   */
  runAll (deliveries: readonly Delivery[], handover = false, onEnd?: () => void): Promise<AttemptResult[]> {
    const results = new Array<AttemptResult>(deliveries.length)
    if (deliveries.length === 0) return Promise.resolve(results)
    return new Promise<AttemptResult[]>((resolve) => {
      let left = deliveries.length
      const ended = (i: number, result: AttemptResult): void => {
        results[i] = result
        if (--left > 0) return
        clearTimeout(watch)
        this.count(results)
        resolve(results)
      }
      const starts = handover ? new Array<number>(deliveries.length).fill(0) : undefined
      const detached = new Map<number, (result: AttemptResult) => void>()
      let watch: NodeJS.Timeout | undefined
      const look = (): void => {
        const now = performance.now()
        let next = HANDOVER_MS
        for (let i = 0; i < deliveries.length; i++) {
          if (left === 0) return
          if (results[i] !== undefined || detached.has(i)) continue
          const started = (starts as number[])[i]
          if (started > 0 && now - started >= HANDOVER_MS) {
            const claim = randomUUID()
            ended(i, handedOver(deliveries[i], new Promise((resolve) => detached.set(i, (result) => { resolve({ ...result, claim }) })), claim))
          } else if (started > 0) {
            next = Math.min(next, started + HANDOVER_MS - now)
          }
        }
        if (left > 0) watch = setTimeout(look, Math.max(1, next))
      }
      if (starts !== undefined) watch = setTimeout(look, HANDOVER_MS)
      for (let i = 0; i < deliveries.length; i++) {
        this.dispatch(deliveries[i], (result) => {
          onEnd?.()
          const resolveDetached = detached.get(i)
          if (resolveDetached !== undefined) resolveDetached(result)
          else ended(i, result)
        }, starts === undefined ? undefined : () => { starts[i] = performance.now() })
      }
    })
  }

  private dispatch (delivery: Delivery, done: (result: AttemptResult) => void, onStart?: () => void): void {
    const guard = this.endpoints
    const endpoint = guard === undefined ? null : this.registry.endpointOf(delivery.action)
    const attempt = (finish: (result: AttemptResult) => void): void => {
      this.limiter.acquire((release) => {
        runAttempt(this.attempts, delivery, onStart, (result) => {
          release()
          finish(result)
        })
      })
    }
    if (guard === undefined || endpoint === null) attempt(done)
    else guard.attempt(endpoint, delivery.origin, timeoutOf(delivery), attempt, (ended) => { done(this.guarded(delivery, endpoint, ended)) })
  }

  /** The result of a guarded delivery; a throw in the guard's bookkeeping ends it as an exception. */
  private guarded (delivery: Delivery, endpoint: string, ended: Guarded<AttemptResult>): AttemptResult {
    if ('broken' in ended) {
      this.log?.error({ err: ended.broken, observer_id: delivery.observer.id, event_id: delivery.event.event_id, endpoint }, 'endpoint bookkeeping failed')
      return failure(delivery, ended.broken, endpoint)
    }
    if ('notMade' in ended) return notMade(delivery, ended.notMade, endpoint)
    ended.made.endpoint = endpoint
    return ended.made
  }

  /**
   * One counter update per (type, outcome) of a batch, the attempts' durations, the delivery
   * latency of the successes, and a debug line per failed attempt.
   */
  count (results: readonly AttemptResult[]): void {
    const { metrics, log } = this
    if (metrics === undefined) return
    const counts = new Map<string, { action_type: string, outcome: string, n: number }>()
    for (const { delivery, outcome, startedAt, durationMs } of results) {
      if (!outcome.ok && outcome.deferUntil !== undefined) continue
      const type = delivery.action.type
      const kind = outcome.ok ? 'success' : outcome.code === 'CANCELLED' ? 'cancelled' : outcome.kind
      const key = `${type}\n${kind}`
      const count = counts.get(key)
      if (count === undefined) counts.set(key, { action_type: type, outcome: kind, n: 1 })
      else count.n++
      metrics.actionDuration.observe(type, durationMs / 1000)
      // from the change's created_at (the writing transaction's start) to the end of the attempt
      // that delivered it; a stored event's timestamp is any text, and NaN would make observe() throw
      const created = outcome.ok ? Date.parse(delivery.event.timestamp) : Number.NaN
      if (Number.isFinite(created)) metrics.deliveryLatency.observe(type, Math.max(0, startedAt.getTime() + durationMs - created) / 1000)
      // every attempt is in tb_observer_log; a failing endpoint would flood the host's log at
      // info level, so the line is debug (dead letters are warned once committed)
      if (!outcome.ok && outcome.code !== 'CANCELLED') {
        log?.debug({ observer_id: delivery.observer.id, event_id: delivery.event.event_id, action_index: delivery.actionIndex, attempt: delivery.attempt, code: outcome.code, status_code: outcome.statusCode }, `action failed: ${outcome.message}`)
      }
    }
    for (const { action_type: actionType, outcome, n } of counts.values()) metrics.actions.inc({ action_type: actionType, outcome }, n)
  }

  /** A shutdown's drain deadline: attempts in flight end, and so do waits for an endpoint's rate. */
  interruptAll (reason: Error): void {
    this.endpoints?.interrupt()
    this.inFlight.interruptAll(reason)
  }

  reset (): void {
    this.inFlight.reset()
    this.endpoints?.resume()
  }
}
