// Backfill: not built yet in this step.
import { JobFailure, type JobRunner } from './job-step.js'

export const backfillRunner: JobRunner = {
  async step () {
    throw new JobFailure('backfill is not available yet')
  }
}
