// Committing a job's step: what its deliveries owe and the job's progress, in one transaction that
// only commits while the job's claim is still this worker's (a step that commits itself checks the
// claim in its own statement).
import { sql, type Kysely } from 'kysely'
import type { Settlement } from '../model.js'
import type { StepClaim, StepResult } from '../runtime/jobs/job-step.js'
import type { JobStatus } from '../runtime/jobs/transitions.js'
import { checkpointChannel } from './checkpoint.repo.js'
import { recordProgress } from './jobs.repo.js'
import { endpointsReopened, writeSettlement } from './settlement.repo.js'
import type { Database } from './types.js'

class ClaimLost extends Error {}

const EMPTY: Settlement = { logs: [], retries: [], deadLetters: [], holds: [], parked: [] }

/**
 * The job's status after the step (an operator may have moved it) and the step as committed (its
 * own commit may have moved the cursor), or undefined when the claim was lost (nothing written).
 */
export async function commitStep (db: Kysely<Database>, schema: string, job: StepClaim, planned: StepResult): Promise<{ status: JobStatus, step: StepResult } | undefined> {
  if (planned.commit !== undefined) return await planned.commit(job)
  try {
    return await db.transaction().execute(async (trx) => {
      const settlement = planned.settlement ?? EMPTY
      // first, before any retry row is locked (as stored.repo.ts does)
      const reopened = await endpointsReopened(trx, settlement.retries)
      const status = await recordProgress(trx, schema, job.pk, job.token, { cursor: planned.cursor, done: planned.done, failed: planned.failed, leaseMs: job.leaseMs })
      if (status === undefined) throw new ClaimLost()
      await writeSettlement(trx, schema, settlement, reopened)
      // the reader keeps held keys in memory: a rewind reloads them (and the release loop then runs)
      if (planned.holds === true) await sql`select pg_notify(${checkpointChannel(schema)}, ${job.listenerId})`.execute(trx)
      return { status, step: planned }
    })
  } catch (err) {
    if (err instanceof ClaimLost) return undefined
    throw err
  }
}
