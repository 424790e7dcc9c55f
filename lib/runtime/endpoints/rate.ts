// Rate limits (SPEC 9.3): a delivery whose slot under its endpoint's rate comes within a moment
// waits for it here; one whose slot is further waits durably instead (no attempt used), booked in
// the endpoint's queue and due just before its slot. A moment is what its origin may be held:
// HANDOVER_MS for the read path (its batch and the checkpoint wait for it), SATURATED_WAIT_MS for
// a re-delivery (its round of the retry worker waits for it). A shutdown ends every wait here.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Kysely } from 'kysely'
import type { ActionOutcome } from '../../actions/types.js'
import { takeRateSlot } from '../../db/endpoints.repo.js'
import type { Database } from '../../db/types.js'
import { notAttempted } from './circuit.js'
import { SATURATED_WAIT_MS } from './slots.js'
import type { RateLimit } from './users.js'

/** Where a delivery comes from: the read path, the retry schedule, or an operator's retry of a dead letter. */
export type Origin = 'change_log' | 'retry' | 'dead_letter'

/**
 * A delivery booked for later is due this long before its slot, and waits the rest here: a round
 * of the retry worker then takes up the next half second's deliveries at once and sends each on
 * its slot, rather than one round per slot, each started late by the last one's commit.
 */
export const BOOKED_LEAD_MS = 500

export class EndpointRates {
  private abort = new AbortController()

  constructor (
    private readonly db: Kysely<Database>,
    /** the longest a read-path delivery may wait here */
    private readonly holdMs: number,
    private readonly now: () => number = Date.now
  ) {}

  /**
   * Waits for the delivery's slot under `limit`; resolves undefined when it may go, or with the
   * outcome of an attempt not made: it waits durably until its slot. An operator's retry of a
   * dead letter waits here however long (it is not rescheduled), until a shutdown.
   */
  async take (endpoint: string, { per_second: perSecond, burst }: RateLimit, origin: Origin): Promise<ActionOutcome | undefined> {
    const intervalMs = 1000 / perSecond
    const maxWaitMs = origin === 'change_log' ? this.holdMs : origin === 'retry' ? SATURATED_WAIT_MS : Number.MAX_SAFE_INTEGER
    const slot = await takeRateSlot(this.db, endpoint, intervalMs, (burst - 1) * intervalMs, maxWaitMs, origin === 'change_log')
    if (!slot.go) return notAttempted('rate', endpoint, new Date(Math.max(this.now(), slot.at - BOOKED_LEAD_MS)))
    if (slot.waitMs <= 0) return undefined
    const signal = this.abort.signal
    if (signal.aborted) return notAttempted('rate', endpoint, new Date(this.now() + slot.waitMs))
    try {
      await sleep(slot.waitMs, undefined, { signal, ref: false })
      return undefined
    } catch {
      // shut down while waiting: the slot is given up, the delivery waits durably
      return notAttempted('rate', endpoint, new Date(this.now() + slot.waitMs))
    }
  }

  /** A shutdown's drain deadline: every wait here ends now, and later ones do not start. */
  interrupt (): void { this.abort.abort() }

  /** Started again. */
  resume (): void {
    if (this.abort.signal.aborted) this.abort = new AbortController()
  }
}
