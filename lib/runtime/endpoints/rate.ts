// Rate limits (SPEC 9.3): a delivery whose slot under its endpoint's rate comes within a moment
// waits for it here; one whose slot is further waits durably instead (no attempt used), booked in
// the endpoint's queue and due a little before its slot. A moment is what its origin may be held:
// HANDOVER_MS for the read path (its batch and the checkpoint wait for it), REDELIVERY_WAIT_MS for
// a re-delivery (its round of the retry worker waits for it). A shutdown ends every wait here.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Kysely } from 'kysely'
import type { ActionOutcome } from '../../actions/types.js'
import { takeRateSlots } from '../../db/endpoints.repo.js'
import type { Database } from '../../db/types.js'
import { notAttempted } from './circuit.js'
import type { RateLimit } from './users.js'

/** Where a delivery comes from: the read path, the retry schedule, or an operator's retry of a dead letter. */
export type Origin = 'change_log' | 'retry' | 'dead_letter'

/**
 * A delivery booked for later is due this long before its slot, and waits the rest here: a round
 * of the retry worker takes up the next two seconds' deliveries at once and sends each on its
 * slot. Rounds run one after the other, and the time between two (a commit, a claim) is lost to
 * the rate: at a round every half second it was 10 % of a 50/s limit (bench/README.md).
 */
export const BOOKED_LEAD_MS = 2000
/** The longest a re-delivery waits here for its slot (a booked one, claimed on time, waits BOOKED_LEAD_MS). */
export const REDELIVERY_WAIT_MS = 2500

type Slot = { waitMs: number } | { at: number }

/** Deliveries asking for slots of one endpoint, from one origin: asked together while an earlier ask is out. */
interface Asking { pending: Array<{ resolve: (slot: Slot) => void, reject: (err: unknown) => void }>, busy: boolean }

export class EndpointRates {
  private abort = new AbortController()
  private readonly asking = new Map<string, Asking>()

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
  async take (endpoint: string, limit: RateLimit, origin: Origin): Promise<ActionOutcome | undefined> {
    const slot = await this.slot(endpoint, limit, origin)
    if ('at' in slot) return notAttempted('rate', endpoint, new Date(Math.max(this.now(), slot.at - BOOKED_LEAD_MS)))
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

  /** One slot; the deliveries that ask while a statement for the endpoint is out share the next one (a batch asks for hundreds at once). */
  private async slot (endpoint: string, limit: RateLimit, origin: Origin): Promise<Slot> {
    const key = `${origin}\n${endpoint}`
    let asking = this.asking.get(key)
    if (asking === undefined) this.asking.set(key, asking = { pending: [], busy: false })
    const queue = asking
    return await new Promise<Slot>((resolve, reject) => {
      queue.pending.push({ resolve, reject })
      if (!queue.busy) this.ask(key, queue, endpoint, limit, origin)
    })
  }

  private ask (key: string, queue: Asking, endpoint: string, { per_second: perSecond, burst }: RateLimit, origin: Origin): void {
    const asked = queue.pending
    queue.pending = []
    queue.busy = true
    const intervalMs = 1000 / perSecond
    const maxWaitMs = origin === 'change_log' ? this.holdMs : origin === 'retry' ? REDELIVERY_WAIT_MS : Number.MAX_SAFE_INTEGER
    takeRateSlots(this.db, endpoint, asked.length, intervalMs, (burst - 1) * intervalMs, maxWaitMs, origin === 'change_log').then(({ waitMs, at }) => {
      asked.forEach(({ resolve }, i) => { resolve(i < waitMs.length ? { waitMs: waitMs[i] } : { at: at[i - waitMs.length] }) })
    }, (err: unknown) => {
      for (const { reject } of asked) reject(err)
    }).finally(() => {
      queue.busy = false
      if (queue.pending.length > 0) this.ask(key, queue, endpoint, { per_second: perSecond, burst }, origin)
      else this.asking.delete(key)
    })
  }
}
