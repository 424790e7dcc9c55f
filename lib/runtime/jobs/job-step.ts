// One step of a job: what a kind of job (replay.ts, backfill.ts) does per chunk, and what it hands
// the worker to commit with the job's progress in one transaction (or how it commits itself).
import type { JobRow } from '../../db/jobs.repo.js'
import type { Settlement } from '../../model.js'
import type { RuntimeContext } from '../context.js'
import type { JobStatus } from './transitions.js'

export interface StepResult {
  /** where the next step starts */
  cursor: Record<string, unknown>
  /** rows the step went through, and deliveries of it that did not succeed */
  done: number
  failed: number
  /** what the step's deliveries owe (log rows, retries, dead letters, holds, parks) */
  settlement?: Settlement
  /**
   * A step that commits itself, its writes and the job's progress at once (a backfill chunk): the
   * job's status after it and the step as committed, or undefined when the claim was lost
   */
  commit?: (claim: StepClaim) => Promise<{ status: JobStatus, step: StepResult } | undefined>
  /** the step wrote holds of an ordered observer's keys: the reader reloads them */
  holds?: boolean
  /** nothing is left: the job is done */
  finished: boolean
  /** nothing to do right now (rows are held back by an open transaction): wait a moment */
  idle?: boolean
}

/** The worker's claim on its job: every commit of a step checks it. */
export interface StepClaim { pk: string, token: string, leaseMs: number, listenerId: string }

export interface JobRunner {
  step: (ctx: RuntimeContext, job: JobRow, slots: number) => Promise<StepResult>
}

/** A job that cannot go on (its observer was deleted, its table dropped): it ends `failed` with this message. */
export class JobFailure extends Error {}

/** Runs `run` over `items`, at most `slots` at once; resolves when every one has. */
export async function runBounded<T> (items: readonly T[], slots: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) await run(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(slots, items.length) }, lane))
}
