// GET /:id/blocked: the keys an ordered observer holds, the delivery blocking each, and how many
// events wait behind it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { findVisibleObserver } from '../lib/db/observers.repo.js'
import { listBlockedKeys } from '../lib/db/ordering.repo.js'
import { NotFoundError } from '../lib/errors.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { BlockedKeyPageSchema, BlockedKeysQuerySchema, IdParamsSchema, errors } from './schemas.js'
import { scopeOf } from './tenancy.js'

export const blockedKeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/:id/blocked', {
    schema: {
      operationId: 'listBlockedKeys',
      tags: ['observers'],
      summary: 'Entities an ordered observer holds: the delivery blocking each and the events parked behind it',
      description: 'Oldest first; keyset pagination (pass next_cursor back as cursor). Empty for an observer that is not ordered or has nothing blocked.',
      params: IdParamsSchema,
      querystring: BlockedKeysQuerySchema,
      response: { 200: BlockedKeyPageSchema, ...errors(404) }
    }
  }, async (request) => {
    const observer = await findVisibleObserver(app.observers.db, request.params.id, await scopeOf(app, request))
    if (observer === undefined) throw new NotFoundError('observer')
    const page = await listBlockedKeys(app.observers.db, app.observers.schema, observer.id, request.query.limit, decodeCursor(request.query.cursor))
    return { data: page.data, next_cursor: page.next_cursor === null ? null : encodeCursor(page.next_cursor) }
  })
}
