// Committing a job's step: what its deliveries owe, its own writes and the job's progress, in one
// transaction that only commits while the job's claim is still this worker's.
import { sql, type Kysely } from 'kysely'
import type { Settlement } from '../model.js'
import type { StepResult } from '../runtime/jobs/job-step.js'
import type { JobStatus } from '../runtime/jobs/transitions.js'
import { checkpointChannel } from './checkpoint.repo.js'
import { recordProgress } from './jobs.repo.js'
import { endpointsReopened, writeSettlement } from './settlement.repo.js'
import type { Database } from './types.js'

class ClaimLost extends Error {}

const EMPTY: Settlement = { logs: [], retries: [], deadLetters: [], holds: [], parked: [] }

/** The job's status after the step (an operator may have moved it), or undefined when the claim was lost (nothing written). */
export async function commitStep (db: Kysely<Database>, schema: string, job: { pk: string, token: string, leaseMs: number, listenerId: string }, step: StepResult): Promise<JobStatus | undefined> {
  try {
    return await db.transaction().execute(async (trx) => {
      const settlement = step.settlement ?? EMPTY
      // first, before any retry row is locked (as stored.repo.ts does)
      const reopened = await endpointsReopened(trx, settlement.retries)
      const status = await recordProgress(trx, schema, job.pk, job.token, { cursor: step.cursor, done: step.done, failed: step.failed, leaseMs: job.leaseMs })
      if (status === undefined) throw new ClaimLost()
      await writeSettlement(trx, schema, settlement, reopened)
      if (step.write !== undefined) await step.write(trx)
      // the reader keeps held keys in memory: a rewind reloads them (and the release loop then runs)
      if (step.holds === true) await sql`select pg_notify(${checkpointChannel(schema)}, ${job.listenerId})`.execute(trx)
      return status
    })
  } catch (err) {
    if (err instanceof ClaimLost) return undefined
    throw err
  }
}
