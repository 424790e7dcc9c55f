// Attempts handed over by the read path (the executor's HANDOVER_MS): their batch committed each
// as a retry of the same attempt, claimed by this instance, and went on. When such an attempt
// ends, it is committed through the one stored path with the end of that claim, a few at a time.
// While the attempt runs, its claim is renewed (CLAIM_MS): should this instance die or freeze first,
// the claim runs out soon after and the retry worker of any instance runs it again.
import type { RuntimeContext } from '../context.js'
import type { AttemptResult } from '../delivery/attempt.js'
import { renewClaims, type HandedOverClaim } from '../../db/claim-renewal.repo.js'
import type { LeaseFence } from '../../db/stored.repo.js'
import { CLAIM_MS } from '../delivery/executor.js'
import { commitStored, type StoredHooks } from './run-stored.js'

export class HandedOverAttempts {
  private running = 0
  private ended: AttemptResult[] = []
  private committing = false
  private idle: Array<() => void> = []
  /** the claims of the attempts still running, by token: renewed every third of CLAIM_MS */
  private readonly claims = new Map<string, HandedOverClaim>()
  private renewal: NodeJS.Timeout | undefined
  private renewing = false

  constructor (
    private readonly ctx: RuntimeContext,
    private readonly hooks: Omit<StoredHooks, 'fence'>,
    /** the lease the attempts were handed over under; a commit after it passed commits nothing */
    private readonly lease: () => LeaseFence
  ) {}

  /** The handed-over results of a committed batch: each is settled once its attempt ends. */
  add (results: readonly AttemptResult[]): void {
    for (const { detached, claim, delivery } of results) {
      if (detached === undefined) continue
      this.running++
      const token = claim as string
      this.claims.set(token, { event_id: delivery.event.event_id, observer_id: delivery.observer.id, action_index: delivery.actionIndex, token })
      this.renewal ??= setInterval(() => { this.renew() }, CLAIM_MS / 3).unref()
      detached.then((result) => {
        this.ended.push(result)
        this.attemptEnded(token)
        this.commitEnded()
      }, (err: unknown) => {
        // an attempt always ends in an outcome; should that break, its claim runs out and it runs again
        this.attemptEnded(token)
        this.ctx.log.error({ err }, 'a handed-over attempt ended without an outcome')
        this.commitEnded()
      })
    }
  }

  private attemptEnded (token: string): void {
    this.running--
    this.claims.delete(token)
    if (this.claims.size === 0) {
      clearInterval(this.renewal)
      this.renewal = undefined
    }
  }

  private renew (): void {
    // one renewal at a time: a slow database must not pile them up
    if (this.renewing || this.claims.size === 0) return
    this.renewing = true
    renewClaims(this.ctx.db, this.ctx.schema, { retries: [], deadLetters: [], handedOver: [...this.claims.values()] }, CLAIM_MS)
      .catch((err: unknown) => { this.ctx.log.warn({ err }, 'renewing the claims of handed-over attempts failed; trying again') })
      .finally(() => { this.renewing = false })
  }

  /** Resolves once every handed-over attempt has ended and been committed (or failed to be). */
  async drain (): Promise<void> {
    if (this.running === 0 && this.ended.length === 0 && !this.committing) return
    await new Promise<void>((resolve) => this.idle.push(resolve))
  }

  private commitEnded (): void {
    if (this.committing) return
    if (this.ended.length === 0) {
      if (this.running === 0) for (const resolve of this.idle.splice(0)) resolve()
      return
    }
    const results = this.ended
    this.ended = []
    this.committing = true
    this.commit(results).finally(() => {
      this.committing = false
      this.commitEnded()
    })
  }

  private async commit (results: AttemptResult[]): Promise<void> {
    const work = results.map((result) => ({ claim: { from: 'handed_over', token: result.claim as string } as const, deliveries: [result.delivery], results: [result] }))
    try {
      await commitStored(this.ctx, work, work.map((w) => w.results), { ...this.hooks, fence: this.lease() })
    } catch (err) {
      // the claims run out and the retry worker runs these again: at least once, maybe twice
      for (const { delivery } of results) {
        this.ctx.log.error({ err, event_id: delivery.event.event_id, observer_id: delivery.observer.id, action_index: delivery.actionIndex }, 'committing a handed-over attempt failed; it runs again when its claim ends')
      }
    }
  }
}
