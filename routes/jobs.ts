// Jobs (replay, redrive, backfill): list, inspect, pause, resume, cancel. A move the job's status
// does not allow (pausing a finished job) is a 409 naming the status.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { getJob, listJobs, moveJob, type JobRow } from '../lib/db/jobs.repo.js'
import { ConflictError, NotFoundError } from '../lib/errors.js'
import type { JobMove } from '../lib/runtime/jobs/transitions.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { IdParamsSchema, JobPageSchema, JobSchema, JobsQuerySchema, errors } from './schemas.js'
import { scopeOf } from './tenancy.js'

const tags = ['jobs']

/** A job as served: its progress, and its rate in rows per second while it ran. */
export function serveJob (job: JobRow, now = Date.now()) {
  const started = job.started_at === null ? null : new Date(job.started_at).getTime()
  const until = job.finished_at === null ? now : new Date(job.finished_at).getTime()
  const seconds = started === null ? 0 : (until - started) / 1000
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    observer_id: job.observer_id,
    total: job.total,
    done: job.done,
    failed: job.failed,
    rate: seconds > 0 ? Math.round(job.done / seconds * 10) / 10 : null,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    error: job.error
  }
}

export const jobRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, schema } = app.observers

  app.get('/jobs', {
    schema: {
      operationId: 'listJobs',
      tags,
      summary: 'Replay and backfill jobs, newest first, with their progress',
      querystring: JobsQuerySchema,
      response: { 200: JobPageSchema, ...errors() }
    }
  }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    const page = await listJobs(db, schema, filter, limit, decodeCursor(cursor), await scopeOf(app, request))
    return { data: page.data.map((j) => serveJob(j)), next_cursor: page.next === null ? null : encodeCursor(page.next) }
  })

  app.get('/jobs/:id', {
    schema: {
      operationId: 'getJob',
      tags,
      summary: 'One job: status, total, done, failed and rate',
      params: IdParamsSchema,
      response: { 200: JobSchema, ...errors(404) }
    }
  }, async (request) => {
    const job = await getJob(db, schema, request.params.id, await scopeOf(app, request))
    if (job === undefined) throw new NotFoundError('job')
    return serveJob(job)
  })

  const move = async (id: string, what: JobMove, scope: Awaited<ReturnType<typeof scopeOf>>): Promise<JobRow> => {
    const moved = await moveJob(db, schema, id, what, scope)
    if (moved !== undefined) return moved
    const job = await getJob(db, schema, id, scope)
    if (job === undefined) throw new NotFoundError('job')
    throw new ConflictError(`the job is ${job.status}: it cannot be ${what === 'cancel' ? 'cancelled' : what === 'pause' ? 'paused' : 'resumed'}`)
  }

  app.post('/jobs/:id/pause', {
    schema: {
      operationId: 'pauseJob',
      tags,
      summary: 'Pause a queued or running job: it stops after the step in flight and keeps its cursor',
      params: IdParamsSchema,
      response: { 200: JobSchema, ...errors(404, 409) }
    }
  }, async (request) => serveJob(await move(request.params.id, 'pause', await scopeOf(app, request))))

  app.post('/jobs/:id/resume', {
    schema: {
      operationId: 'resumeJob',
      tags,
      summary: 'Resume a paused job from its cursor (any instance takes it)',
      params: IdParamsSchema,
      response: { 200: JobSchema, ...errors(404, 409) }
    }
  }, async (request) => {
    const job = await move(request.params.id, 'resume', await scopeOf(app, request))
    app.observers.wakeJobs()
    return serveJob(job)
  })

  app.delete('/jobs/:id', {
    schema: {
      operationId: 'cancelJob',
      tags,
      summary: 'Cancel a job: nothing more is sent once the step in flight ends (within a second)',
      description: 'What the job already sent, and the retries it scheduled, stay.',
      params: IdParamsSchema,
      response: { 200: JobSchema, ...errors(404, 409) }
    }
  }, async (request) => serveJob(await move(request.params.id, 'cancel', await scopeOf(app, request))))
}
