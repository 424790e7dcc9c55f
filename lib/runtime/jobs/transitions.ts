// The states of a job and the only moves between them (SPEC 9.4). Pure: the repository turns a
// move into `update ... where status = any(<from>)`, so a move the table refuses never happens,
// whichever instance or request asks for it.
export const JOB_STATUSES = ['queued', 'running', 'paused', 'done', 'failed', 'cancelled'] as const
export type JobStatus = typeof JOB_STATUSES[number]

export const JOB_KINDS = ['replay', 'backfill'] as const
export type JobKind = typeof JOB_KINDS[number]

/**
 * claim: a worker takes a queued job, or a running one whose lease ran out (its worker died);
 * release: a worker that stops (shutdown) hands it back; finish / fail: the worker's verdict;
 * pause, resume, cancel: an operator's.
 */
export type JobMove = 'claim' | 'release' | 'finish' | 'fail' | 'pause' | 'resume' | 'cancel'

const MOVES: Record<JobMove, Partial<Record<JobStatus, JobStatus>>> = {
  claim: { queued: 'running', running: 'running' },
  release: { running: 'queued' },
  finish: { running: 'done' },
  fail: { running: 'failed' },
  pause: { queued: 'paused', running: 'paused' },
  resume: { paused: 'queued' },
  cancel: { queued: 'cancelled', running: 'cancelled', paused: 'cancelled' }
}

/** The status after `move` from `status`, or undefined when the move is not allowed from there. */
export function nextStatus (status: JobStatus, move: JobMove): JobStatus | undefined {
  return MOVES[move][status]
}

/** The statuses `move` may start from. */
export function movableFrom (move: JobMove): JobStatus[] {
  return Object.keys(MOVES[move]) as JobStatus[]
}

/** The status `move` leads to (every move has one). */
export function targetOf (move: JobMove): JobStatus {
  return Object.values(MOVES[move])[0] as JobStatus
}

/** No move leaves it. */
export function isFinal (status: JobStatus): boolean {
  return (Object.keys(MOVES) as JobMove[]).every((move) => nextStatus(status, move) === undefined)
}
