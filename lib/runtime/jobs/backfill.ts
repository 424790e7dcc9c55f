// A backfill: an application table's existing rows written to the change log as READ rows, in
// primary-key order, one chunk per step (at most 1 000 rows per transaction), while live writes
// go on. The runtime then delivers them like any change. Why a READ and a live change of one key
// end on the row's latest state: ../../db/backfill.repo.ts.
import { setTimeout as sleep } from 'node:timers/promises'
import { listenerStreams, readerPassed, writeReadChunk, type BackfillTarget } from '../../db/backfill.repo.js'
import type { Position } from '../../db/change-log.repo.js'
import type { RuntimeContext } from '../context.js'
import { JobFailure, type JobRunner, type StepResult } from './job-step.js'

/**
 * Rows per chunk unless the request says otherwise. While a chunk's transaction is open the reader
 * cannot read past it (its horizon), and a live change committed meanwhile is read with the chunk's
 * rows: a small chunk keeps the live stream's wait short (25 against 50 rows: two thirds of the
 * backfill's rate, the live p99 beside it ~2 ms lower; bench/README.md, session 8).
 */
export const BACKFILL_CHUNK = 25
/** How long a chunk waits for transactions older than its own before it lets go and tries again later. */
const OLDER_WAIT_MS = 1000
/**
 * How long a chunk waits for the reader to have read the chunk before it. Pacing the backfill by
 * the reader keeps live changes from queueing behind a million READ rows (they are read in commit
 * order, interleaved); a reader that does not move (stopped, or far behind already) delays each
 * chunk by this much at most, so the backfill still ends.
 */
const READER_WAIT_MS = 1000

export interface BackfillParams extends BackfillTarget { chunk: number }

export const backfillRunner: JobRunner = {
  async step (ctx, job): Promise<StepResult> {
    const target = job.params as unknown as BackfillParams
    const after = (job.cursor?.after ?? null) as string | null
    const through = (job.cursor?.through ?? null) as Position | null
    const unchanged: StepResult = { cursor: { after, through }, done: 0, failed: 0, finished: false }
    if (through !== null) await waitForReader(ctx, through)
    return {
      ...unchanged,
      commit: async (claim) => {
        let written
        try {
          written = await writeReadChunk(ctx.db, ctx.schema, target, claim, { after, through }, target.chunk, OLDER_WAIT_MS)
        } catch (err) {
          const code = (err as { code?: string }).code
          // the table or a column went away (42P01, 42703): the job cannot go on
          if (code === '42P01' || code === '42703') throw new JobFailure(`${target.schema}.${target.table}: ${(err as Error).message}`)
          throw err
        }
        if (written === 'lost') return undefined
        // nothing written: the job's status as it was, and a moment's wait
        if (written === 'busy') return { status: 'running', step: { ...unchanged, idle: true } }
        const cursor = { after: written.last, through: written.through }
        return { status: written.status, step: { cursor, done: written.count, failed: 0, finished: written.count < target.chunk } }
      }
    }
  }
}

async function waitForReader (ctx: RuntimeContext, through: Position): Promise<void> {
  const { listenerId, partitions } = ctx.options.runtime
  const until = Date.now() + READER_WAIT_MS
  for (;;) {
    // a stream this instance committed past the chunk has read it, and the whole stream read here
    // has not until it does: the database is asked only about the others (a partition may have no
    // row of its own in the chunk)
    const behind = listenerStreams(listenerId, partitions).filter((id) => !ctx.progress.reached(id, through))
    if (behind.length === 0) return
    const ask = partitions === 1 && ctx.progress.readsWholeStream() ? [] : behind
    if (ask.length > 0 && await readerPassed(ctx.db, ctx.schema, ask, partitions, through)) return
    const left = until - Date.now()
    if (left <= 0) return
    if (ask.length > 0) await sleep(Math.min(5, left))
    else await ctx.progress.next(left)
  }
}
