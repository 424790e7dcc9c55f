// The change log (browse) and listener checkpoints (read; move to replay).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { browseChangeLog } from '../lib/db/changelog-browse.repo.js'
import { START, positionOf } from '../lib/db/change-log.repo.js'
import { getCheckpoint, moveCheckpoint, type Checkpoint } from '../lib/db/checkpoint.repo.js'
import { NotFoundError, ValidationError } from '../lib/errors.js'
import {
  ChangeLogPageSchema, ChangeLogQuerySchema, CheckpointSchema, ListenerParamsSchema, MoveCheckpointSchema, bodyErrors, errors
} from './schemas.js'
import { requireInstanceWide, scopeOf } from './tenancy.js'

const tags = ['change-log']

const serve = (c: Checkpoint) => ({
  listener_id: c.listener_id,
  after_cursor: c.position.id,
  updated_at: c.updated_at,
  event_count: c.event_count,
  last_error: c.last_error
})

export const changeLogRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.observers.db

  app.get('/changelog', {
    schema: {
      operationId: 'listChangeLog',
      tags,
      summary: 'Change-log rows after a change-log id, in id order (with a tenant resolver: the tenant\'s rows)',
      querystring: ChangeLogQuerySchema,
      response: { 200: ChangeLogPageSchema, ...errors() }
    }
  }, async (request) => {
    const q = request.query
    const page = await browseChangeLog(db, q.after_cursor ?? '0', q.limit, q.object_type, await scopeOf(app, request))
    return { entries: page.entries, next_cursor: page.next }
  })

  app.get('/checkpoint/:listener_id', {
    schema: {
      operationId: 'getCheckpoint',
      tags,
      summary: 'A listener\'s position in the change log',
      params: ListenerParamsSchema,
      response: { 200: CheckpointSchema, ...errors(404) }
    }
  }, async (request) => {
    const checkpoint = await getCheckpoint(db, request.params.listener_id)
    if (checkpoint === undefined) throw new NotFoundError('checkpoint')
    return serve(checkpoint)
  })

  app.put('/checkpoint/:listener_id', {
    schema: {
      operationId: 'moveCheckpoint',
      tags,
      summary: 'Move a listener\'s checkpoint (replay): the rows after after_cursor are read again',
      description: 'after_cursor "0" = the start of the log; an unknown change-log id is a 400. Creates the checkpoint of a new listener. ' +
        'A running reader notices the move when it next commits a batch. Refused (403) to a tenant\'s request.',
      params: ListenerParamsSchema,
      body: MoveCheckpointSchema,
      response: { 200: CheckpointSchema, ...bodyErrors(403) }
    }
  }, async (request) => {
    requireInstanceWide(await scopeOf(app, request), 'moving a checkpoint')
    const cursor = request.body.after_cursor
    const position = cursor === '0' ? START : await positionOf(db, cursor)
    if (position === undefined) throw new ValidationError(`body/after_cursor: no change-log row has id ${cursor}`)
    return serve(await moveCheckpoint(db, app.observers.schema, request.params.listener_id, position))
  })
}
