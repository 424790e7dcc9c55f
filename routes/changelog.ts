// The change log (browse) and listener checkpoints (read; move to replay).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Kysely } from 'kysely'
import { browseChangeLog } from '../lib/db/changelog-browse.repo.js'
import { START, positionOf, type Position } from '../lib/db/change-log.repo.js'
import { removeCheckpoint } from '../lib/db/checkpoint-removal.repo.js'
import { getCheckpoint, moveCheckpoint, type Checkpoint } from '../lib/db/checkpoint.repo.js'
import type { Database } from '../lib/db/types.js'
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.js'
import {
  ChangeLogPageSchema, ChangeLogQuerySchema, CheckpointSchema, ListenerParamsSchema, MoveCheckpointSchema, NoContentSchema, bodyErrors, errors
} from './schemas.js'
import { cursorText } from './schemas/cursor-input.js'
import { requireInstanceWide, scopeOf } from './tenancy.js'

const tags = ['change-log']

/** A page cursor (`<txid>:<id>`), or a bare change-log id: after that row's place in commit order. */
async function positionAfter (db: Kysely<Database>, cursor: string | undefined): Promise<Position> {
  if (cursor === undefined || cursor === '0') return START
  const [txid, id] = cursor.split(':')
  if (id !== undefined) return { txid, id }
  const position = await positionOf(db, cursor)
  if (position === undefined) throw new ValidationError(`querystring/after_cursor: no change-log row has id ${cursor} (pass an entry's cursor)`)
  return position
}

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
      summary: 'Change-log rows after a cursor, in the reader\'s commit order (with a tenant resolver: the tenant\'s rows)',
      description: 'Pages never skip a row that commits late: only rows of transactions that have all ended are served, so an open ' +
        'transaction holds back the rows committed after it began until it ends.',
      querystring: ChangeLogQuerySchema,
      response: { 200: ChangeLogPageSchema, ...errors() }
    }
  }, async (request) => {
    const q = request.query
    const page = await browseChangeLog(db, await positionAfter(db, q.after_cursor), q.limit, q.object_type, await scopeOf(app, request))
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
    const cursor = cursorText(request.body.after_cursor)
    const position = cursor === '0' ? START : await positionOf(db, cursor)
    if (position === undefined) throw new ValidationError(`body/after_cursor: no change-log row has id ${cursor}`)
    return serve(await moveCheckpoint(db, app.observers.schema, request.params.listener_id, position))
  })

  app.delete('/checkpoint/:listener_id', {
    schema: {
      operationId: 'deleteCheckpoint',
      tags,
      summary: 'Remove an abandoned listener\'s checkpoint, so it no longer holds the change-log retention back',
      description: '409 while an instance reads that listener (holds its lease); a listener started again later begins at the start of the log. ' +
        'Refused (403) to a tenant\'s request.',
      params: ListenerParamsSchema,
      response: { 204: NoContentSchema, ...errors(403, 404, 409) }
    }
  }, async (request, reply) => {
    requireInstanceWide(await scopeOf(app, request), 'removing a checkpoint')
    const removal = await removeCheckpoint(db, app.observers.schema, request.params.listener_id)
    if (removal === 'unknown') throw new NotFoundError('checkpoint')
    if (removal === 'running') throw new ConflictError(`listener ${request.params.listener_id} is running (an instance holds its lease): stop it first`)
    return await reply.code(204).send(null)
  })
}
