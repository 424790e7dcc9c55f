// Reading: commit-order-safe reading of the change log, without stalls. The reader's position
// changes here only: restart() (back to the stored checkpoint) and take() (a batch is on its way).
//
// Fast path: rows are read in (txid, id) order, only from transactions below the snapshot horizon
// (pg_snapshot_xmin). Every transaction below it has ended, so no row can ever appear behind the
// checkpoint: a late committer is read when it commits, a rolled-back row is never seen, and the
// checkpoint is one position, written once per batch. Cost: nothing beyond the batch SELECT.
//
// The horizon has one weakness: a single transaction left open anywhere in the database holds it
// back, and with it every later commit. So when the horizon has not moved for `horizonStallMs`
// and the fast path is dry, the reader also takes committed rows above the horizon and records
// each one in a small ledger (tb_change_log_ahead) in the batch's own transaction. When the
// horizon moves on, the fast path skips the rows in the ledger and the ledger is trimmed as the
// checkpoint passes them. Cost: one ledger row per event read while stalled, none otherwise.
//
// No NOTIFY says when an open transaction ends. But each change-log NOTIFY names the transaction
// that committed: when one at or above the horizon was notified, committed rows wait for an open
// transaction, and the loop reads again after a short, doubling pause instead of waiting for the
// next NOTIFY or poll. The rows go out soon after the holder ends, and the stall path starts on
// time even when the poll interval is longer than `horizonStallMs`. (Without LISTEN, with a `db`
// option, only the poll interval brings the reader back.)
import type { Kysely } from 'kysely'
import {
  aheadIdsUpTo, lastAheadPosition, readAboveHorizon, readBelowHorizon, type Position, type Slice
} from '../../db/change-log.repo.js'
import { ensureCheckpoint } from '../../db/checkpoint.repo.js'
import type { Database } from '../../db/types.js'
import type { ChangeLogRow } from '../../model.js'

/** a comes after b in commit order */
export function after (a: Position, b: Position): boolean {
  const ta = BigInt(a.txid)
  const tb = BigInt(b.txid)
  return ta !== tb ? ta > tb : BigInt(a.id) > BigInt(b.id)
}

export interface Batch {
  rows: ChangeLogRow[]
  from: Position
  /** the checkpoint after this batch (equal to `from` for rows read above the horizon) */
  to: Position
  /** rows read above the horizon, to record in the ledger */
  ahead: Array<{ id: string, txid: string }>
  clearAhead: boolean
  /** tb_observer's version in the snapshot that read the rows (the matcher must be at least this new) */
  observersVersion?: string
  /** as many rows were read as asked for: there may be more to read right away */
  full?: boolean
}

export interface HorizonState {
  xmin: string
  /** when this horizon value was first seen (ms since epoch) */
  since: number
  /** committed rows above it had to be read around it (the ledger path) */
  blocking: boolean
}

/** a NOTIFY payload that names no transaction (older triggers): past any position */
const UNKNOWN = 2n ** 64n

/** the first pause before reading again while rows are held back; it doubles on each such read */
const HELD_FIRST_PAUSE_MS = 2
/** the longest such pause: a long poll interval must not leave held rows waiting long after their holder ends */
const HELD_MAX_PAUSE_MS = 500

export class ChangeLogReader {
  /** where the next read starts: the checkpoint plus the batches taken and not yet committed */
  private at: Position = { txid: '0', id: '0' }
  horizon: HorizonState | null = null
  /** the furthest row in the ahead-ledger; undefined when it is empty (the fast path then skips the ledger) */
  private aheadUntil: Position | undefined
  /** reads in a row that found committed rows held back by the horizon (0: none are) */
  private heldReads = 0
  /** the newest transaction a change-log NOTIFY named */
  private notified = 0n
  /** the newest transaction past the position a NOTIFY named since the last read began (UNKNOWN: a payload without one) */
  private noticed = 0n
  /** the last read found no row, none is known to wait, and no NOTIFY came since: the next read likely finds none either */
  private foundNothing = false

  constructor (
    private readonly db: Kysely<Database>,
    private readonly schema: string,
    private readonly listenerId: string,
    private readonly batchSize: number,
    private readonly horizonStallMs: number,
    private readonly now: () => number = Date.now,
    /** one partition of the stream, or all of it */
    private readonly slice?: Slice
  ) {}

  get position (): Position { return this.at }

  /** Back to the stored checkpoint (created at the start of the log when new) and ledger state. */
  async restart (): Promise<void> {
    const [checkpoint, aheadUntil] = await Promise.all([ensureCheckpoint(this.db, this.listenerId), lastAheadPosition(this.db, this.listenerId)])
    this.at = checkpoint.position
    this.aheadUntil = aheadUntil
  }

  /** The next batch to deliver, or null when there is nothing to read now; take() it to move on. */
  async next (limit = this.batchSize): Promise<Batch | null> {
    const from = this.at
    this.noticed = 0n
    const { rows: read, xmin, observersVersion, barrier, above } = await readBelowHorizon(this.db, this.schema, from, limit, this.slice, this.foundNothing)
    const now = this.now()
    if (this.horizon === null || this.horizon.xmin !== xmin) this.horizon = { xmin, since: now, blocking: false }
    // once stalled, every read takes the rows above the horizon itself: nothing to come back for early
    const held = this.notified >= BigInt(xmin) && !this.horizon.blocking
    this.heldReads = held ? this.heldReads + 1 : 0
    // rows held back come below the horizon when their holder ends, with no NOTIFY of their own
    this.foundNothing = read.length === 0 && !held
    // a re-split is under way: this partition reads up to its barrier, and no further
    const rows = barrier === undefined ? read : read.filter((r) => BigInt(r.txid) < BigInt(barrier))
    const stop = barrier === undefined ? undefined : reachedBarrier(barrier, read.length, rows.length, limit, xmin)
    if (stop !== undefined && !after(stop, from)) {
      this.heldReads = 0
      return null
    }
    if (rows.length > 0 || stop !== undefined) {
      const last = rows[rows.length - 1]
      // the barrier: every row of this partition before it is read (a batch with no row moves the checkpoint there)
      const to = stop ?? { txid: last.txid, id: String(last.pk_entity_change_log) }
      const clearAhead = this.aheadUntil !== undefined
      let fresh = rows
      if (clearAhead) {
        const delivered = await aheadIdsUpTo(this.db, this.listenerId, to)
        fresh = rows.filter((r) => !delivered.has(String(r.pk_entity_change_log)))
      }
      return { rows: fresh, from, to, ahead: [], clearAhead, observersVersion, full: stop === undefined && rows.length >= limit }
    }
    // nothing committed waits above the horizon: nothing for the slow path to read
    if (now - this.horizon.since < this.horizonStallMs || above === false) return null
    const { rows: readAhead, observersVersion: aheadVersion, barrier: aheadBarrier } = await readAboveHorizon(this.db, this.schema, this.listenerId, from, limit, this.slice)
    const ahead = aheadBarrier === undefined ? readAhead : readAhead.filter((r) => BigInt(r.txid) < BigInt(aheadBarrier))
    if (ahead.length === 0) {
      // what waits above the horizon was delivered already (the ledger): nothing to come back for
      this.heldReads = 0
      return null
    }
    // stays set until the horizon moves: committed rows had to be read around it
    this.horizon.blocking = true
    this.heldReads = 0
    return {
      rows: ahead,
      from,
      to: from,
      ahead: ahead.map((r) => ({ id: String(r.pk_entity_change_log), txid: r.txid })),
      clearAhead: false,
      observersVersion: aheadVersion,
      full: ahead.length >= limit
    }
  }

  /**
   * A change-log NOTIFY named this committed transaction (its payload; empty from older triggers).
   * False when the reader is already past it: a read woken by an earlier NOTIFY took its rows.
   * (A restart that moves the position back is followed by a read before the loop waits again.)
   */
  committed (txid: string): boolean {
    const id = /^[0-9]+$/.test(txid) ? BigInt(txid) : UNKNOWN
    // the position is a row read below the horizon: every transaction up to its own had ended
    // and was read whole (a read that stopped within one is followed at once by the next)
    if (id <= BigInt(this.at.txid)) return false
    if (id !== UNKNOWN && id > this.notified) this.notified = id
    if (id > this.noticed) this.noticed = id
    // rows likely wait: the next read takes the fast path
    this.foundNothing = false
    return true
  }

  /**
   * A NOTIFY that came during the last read (or since) named a transaction the read did not take:
   * read again rather than wait. One whose rows the read took asks for nothing.
   */
  get noticedUnread (): boolean {
    return this.noticed > BigInt(this.at.txid)
  }

  /** the last read found committed rows waiting above the horizon (and not yet read around it) */
  get heldBack (): boolean {
    return this.heldReads > 0
  }

  /**
   * How long the loop may wait for a NOTIFY before reading again: the poll interval, or while rows
   * are held back a pause that starts at 2 ms and doubles up to 500 ms, never past the poll
   * interval or the moment the stall path is due.
   */
  readAgainInMs (pollIntervalMs: number): number {
    if (this.heldReads === 0 || this.horizon === null) return pollIntervalMs
    const pause = Math.min(HELD_MAX_PAUSE_MS, HELD_FIRST_PAUSE_MS * 2 ** Math.min(this.heldReads - 1, 16))
    const untilStall = this.horizon.since + this.horizonStallMs - this.now()
    return Math.max(1, Math.min(pollIntervalMs, pause, untilStall))
  }

  /**
   * The first `keep` rows of `batch` are on their way (all of it by default): the next read starts
   * after them. Their commit happens later; if a commit fails, the caller discards what followed
   * and calls restart().
   */
  take (batch: Batch, keep = batch.rows.length): Batch {
    const taken = keep >= batch.rows.length ? batch : truncate(batch, keep)
    this.at = taken.to
    const last = taken.ahead[taken.ahead.length - 1]
    if (last !== undefined && (this.aheadUntil === undefined || after(last, this.aheadUntil))) this.aheadUntil = last
    // once the checkpoint passes the furthest ledger row, the ledger is empty (trimmed in the batch)
    if (this.aheadUntil !== undefined && !after(this.aheadUntil, taken.to)) this.aheadUntil = undefined
    return taken
  }
}

/**
 * The barrier's position when the partition has nothing more to read before it: the read stopped
 * at a row past it, or it read every row below a horizon past the barrier's transaction (which has
 * ended: the reader saw its request), so no transaction below the barrier can add a row.
 */
function reachedBarrier (barrier: string, read: number, kept: number, limit: number, xmin: string): Position | undefined {
  const done = kept < read || (read < limit && BigInt(xmin) > BigInt(barrier))
  return done ? { txid: barrier, id: '0' } : undefined
}

/** The first `keep` rows: the batch then ends at the last row kept. */
function truncate (batch: Batch, keep: number): Batch {
  const rows = batch.rows.slice(0, keep)
  if (batch.ahead.length > 0) return { ...batch, rows, ahead: batch.ahead.slice(0, keep) }
  const last = rows[rows.length - 1]
  return { ...batch, rows, to: { txid: last.txid, id: String(last.pk_entity_change_log) } }
}
