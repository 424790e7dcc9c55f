// Runs replay and backfill jobs on any instance. A job is claimed with SKIP LOCKED under a lease
// that its worker extends while it runs; each step commits the job's cursor with what the step
// owed, so a job whose worker stops (a restart, a crash, kill -9) is taken over by any instance
// once the lease lapses and goes on from its last committed step. The worker checks the job's
// status at each step: a pause or a cancel takes effect at the next step (steps are short).
// One job at a time per instance, its deliveries bounded to a share of `concurrency` (jobSlots):
// the read path keeps the rest.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { commitStep } from '../../db/job-step.repo.js'
import { claimJob, endClaim, extendClaim, type JobRow } from '../../db/jobs.repo.js'
import { recordError, type RuntimeContext } from '../context.js'
import type { Waker } from '../primitives/waker.js'
import { backfillRunner } from './backfill.js'
import { JobFailure, type JobRunner } from './job-step.js'
import { replayRunner } from './replay.js'
import type { JobKind } from './transitions.js'

/** How long a claim lasts without a heartbeat: a dead worker's job is taken over after this. */
export const JOB_LEASE_MS = 10_000
/** How often an idle worker looks for a job (an API call on this instance wakes it at once). */
const IDLE_POLL_MS = 250

const RUNNERS: Record<JobKind, JobRunner> = { replay: replayRunner, backfill: backfillRunner }

/** A job's share of the delivery slots: a quarter of `concurrency`, at least one. */
export const jobSlots = (ctx: RuntimeContext): number => Math.max(1, Math.floor(ctx.options.runtime.concurrency / 4))

export async function jobLoop (ctx: RuntimeContext, waker: Waker, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const token = randomUUID()
      const job = await claimJob(ctx.db, ctx.schema, token, JOB_LEASE_MS)
      if (job === undefined) {
        await waker.sleep(IDLE_POLL_MS, signal)
        continue
      }
      await runJob(ctx, job, token, waker, signal)
    } catch (err) {
      recordError(ctx, err, {}, 'running a job failed; retrying')
      await sleep(1000, undefined, { signal, ref: false }).catch(() => {})
    }
  }
}

async function runJob (ctx: RuntimeContext, job: JobRow, token: string, waker: Waker, signal: AbortSignal): Promise<void> {
  const ids = { job_id: job.id, kind: job.kind }
  ctx.log.info(ids, 'job claimed')
  const heartbeat = new AbortController()
  const beating = keepClaim(ctx, job.pk, token, heartbeat.signal)
  const claim = { pk: job.pk, token, leaseMs: JOB_LEASE_MS, listenerId: ctx.options.runtime.listenerId }
  try {
    let current = job
    for (;;) {
      if (signal.aborted) {
        // handed back at once: another instance (or this one, restarted) goes on from the cursor
        await endClaim(ctx.db, ctx.schema, job.pk, token, 'release')
        return
      }
      const committed = await commitStep(ctx.db, ctx.schema, claim, await RUNNERS[job.kind].step(ctx, current, jobSlots(ctx)))
      if (committed === undefined) {
        ctx.log.warn(ids, 'job step not committed: the job\'s claim passed to another instance')
        return
      }
      const { status, step } = committed
      if (status !== 'running') {
        await endClaim(ctx.db, ctx.schema, job.pk, token, 'release')
        ctx.log.info({ ...ids, status }, 'job stopped by an operator')
        return
      }
      if (step.finished) {
        await endClaim(ctx.db, ctx.schema, job.pk, token, 'finish')
        ctx.log.info(ids, 'job done')
        return
      }
      current = { ...current, cursor: step.cursor }
      if (step.idle === true) await waker.sleep(IDLE_POLL_MS, signal)
    }
  } catch (err) {
    if (!(err instanceof JobFailure)) throw err
    await endClaim(ctx.db, ctx.schema, job.pk, token, 'fail', err.message)
    ctx.log.warn({ ...ids, reason: err.message }, 'job failed')
  } finally {
    heartbeat.abort()
    await beating
  }
}

/** Extends the claim a few times per lease while the job runs (a step may outlast the lease). */
async function keepClaim (ctx: RuntimeContext, pk: string, token: string, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await sleep(JOB_LEASE_MS / 3, undefined, { signal, ref: false }).catch(() => {})
    if (signal.aborted) return
    await extendClaim(ctx.db, ctx.schema, pk, token, JOB_LEASE_MS).catch((err: Error) => {
      ctx.log.warn({ err, job: pk }, 'extending a job\'s claim failed')
    })
  }
}
