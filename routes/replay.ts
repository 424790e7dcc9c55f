// POST /:id/replay: a replay (or with only_failed a redrive) of a window of the change log to one
// observer, as a job; with dry_run, only the count it would go through.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Kysely } from 'kysely'
import { START, positionOf, type Position } from '../lib/db/change-log.repo.js'
import { dbNow, insertJob } from '../lib/db/jobs.repo.js'
import { findVisibleObserver } from '../lib/db/observers.repo.js'
import { countReplay, type ReplayWindow } from '../lib/db/replay.repo.js'
import type { Database } from '../lib/db/types.js'
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../lib/errors.js'
import { replayJobParams } from '../lib/runtime/jobs/replay.js'
import { IdParamsSchema, JobCreatedSchema, JobEstimateSchema, ReplayBodySchema, bodyErrors } from './schemas.js'
import { cursorText } from './schemas/cursor-input.js'
import { scopeOf } from './tenancy.js'

async function positionAt (db: Kysely<Database>, field: string, value: string | number | undefined): Promise<Position | undefined> {
  if (value === undefined) return undefined
  const id = cursorText(value)
  if (id === '0') return START
  const position = await positionOf(db, id)
  if (position === undefined) throw new ValidationError(`body/${field}: no change-log row has id ${id}`)
  return position
}

export const replayRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, schema } = app.observers

  app.post('/:id/replay', {
    schema: {
      operationId: 'replayObserver',
      tags: ['jobs'],
      summary: 'Deliver a window of the change log again to this observer only, as a job (only_failed: a redrive)',
      description: 'In commit order, with the original idempotency keys, within the observer\'s ordering and rate limits. ' +
        'dry_run answers 200 { total } and sends nothing; otherwise 202 { job_id } (follow it at GET /jobs/:id).',
      params: IdParamsSchema,
      body: ReplayBodySchema,
      response: { 200: JobEstimateSchema, 202: JobCreatedSchema, ...bodyErrors(403, 404, 409) }
    }
  }, async (request, reply) => {
    const scope = await scopeOf(app, request)
    const observer = await findVisibleObserver(db, request.params.id, scope)
    if (observer === undefined) throw new NotFoundError('observer')
    if (scope !== undefined && observer.tenant_id !== scope.tenant) throw new ForbiddenError('a global observer cannot be replayed by a tenant\'s request')
    const body = request.body
    const byTime = body.since !== undefined || body.until !== undefined
    if (byTime && (body.after_cursor !== undefined || body.to_cursor !== undefined)) {
      throw new ValidationError('body: give a time window (since, until) or a cursor range (after_cursor, to_cursor), not both')
    }
    if (body.since !== undefined && body.until !== undefined && Date.parse(body.since) >= Date.parse(body.until)) {
      throw new ValidationError('body/until must be later than since')
    }
    const window: ReplayWindow = {
      observer_id: observer.id,
      ...(body.since === undefined ? {} : { since: body.since }),
      ...(body.until === undefined ? {} : { until: body.until }),
      created_before: await dbNow(db),
      after: await positionAt(db, 'after_cursor', body.after_cursor) ?? START,
      ...(body.to_cursor === undefined ? {} : { to: await positionAt(db, 'to_cursor', body.to_cursor) }),
      ...(body.entity_type === undefined ? {} : { entity_type: body.entity_type }),
      ...(body.entity_id === undefined ? {} : { entity_id: body.entity_id }),
      only_failed: body.only_failed === true,
      observer_entity_type: observer.entity_type,
      observer_event_type: observer.event_type,
      observer_tenant_id: observer.tenant_id
    }
    const total = await countReplay(db, schema, window)
    if (body.dry_run === true) return await reply.code(200).send({ total })
    if (!observer.enabled) throw new ConflictError('the observer is disabled: enable it to replay to it')
    const { params, cursor } = replayJobParams(window)
    const job = await insertJob(db, schema, { kind: 'replay', observer_id: observer.id, tenant_id: observer.tenant_id, params, cursor, total })
    app.observers.wakeJobs()
    return await reply.code(202).send({ job_id: job.id })
  })
}
