// Dead letters: list, inspect, discard, retry one or all. Retries go through the runtime, whose
// claim makes two concurrent retries of one item run it once (the second answers 409).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import type { DeadLetterFilter } from '../lib/db/dead-letter.repo.js'
import { deleteDeadLetters, toDeadLetterItem } from '../lib/db/dead-letter.repo.js'
import type { TenantScope } from '../lib/db/tenant-scope.js'
import { NotFoundError } from '../lib/errors.js'
import type { JsonObject } from '../lib/model.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import {
  DeadLetterDetailSchema, DeadLetterFilterSchema, DiscardAllResultSchema, DeadLetterPageSchema, DeadLetterQuerySchema, DeadLetterStatsSchema,
  IdParamsSchema, NoContentSchema, RetryAllResultSchema, RetryResultSchema, bodyErrors, errors
} from './schemas.js'
import { scopeOf } from './tenancy.js'

const tags = ['dead-letters']

function withScope (filter: DeadLetterFilter, scope: TenantScope | undefined): DeadLetterFilter {
  return scope === undefined ? filter : { ...filter, tenant_id: scope.tenant }
}

/** The item, when it exists and (with a tenant resolver) belongs to the request's tenant. */
async function visibleDeadLetter (app: FastifyInstance, id: string, scope: TenantScope | undefined) {
  const row = await app.observers.deadLetters.get(id)
  if (row === undefined || (scope !== undefined && row.tenant_id !== scope.tenant)) throw new NotFoundError('dead letter')
  return row
}

export const deadLetterRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const dlq = app.observers.deadLetters

  app.get('/dlq', {
    schema: {
      operationId: 'listDeadLetters',
      tags,
      summary: 'Dead letters, newest first (keyset pagination: pass next_cursor back as cursor)',
      querystring: DeadLetterQuerySchema,
      response: { 200: DeadLetterPageSchema, ...errors() }
    }
  }, async (request) => {
    const { limit, cursor, ...filter } = request.query
    const page = await dlq.list(withScope(filter, await scopeOf(app, request)), limit, decodeCursor(cursor))
    return { data: page.data, next_cursor: page.next_cursor === null ? null : encodeCursor(page.next_cursor) }
  })

  app.get('/dlq/stats', {
    schema: {
      operationId: 'getDeadLetterStats',
      tags,
      summary: 'Dead letters: total, by action type, by observer',
      querystring: DeadLetterFilterSchema,
      response: { 200: DeadLetterStatsSchema, ...errors() }
    }
  }, async (request) => await dlq.stats(withScope(request.query, await scopeOf(app, request))))

  app.get('/dlq/:id', {
    schema: {
      operationId: 'getDeadLetter',
      tags,
      summary: 'One dead letter and the event its action failed on',
      params: IdParamsSchema,
      response: { 200: DeadLetterDetailSchema, ...errors(404) }
    }
  }, async (request) => {
    const row = await visibleDeadLetter(app, request.params.id, await scopeOf(app, request))
    return { ...toDeadLetterItem(row), event: row.event as JsonObject }
  })

  app.delete('/dlq/:id', {
    schema: {
      operationId: 'deleteDeadLetter',
      tags,
      summary: 'Discard a dead letter',
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...errors(404) }
    }
  }, async (request, reply) => {
    const row = await visibleDeadLetter(app, request.params.id, await scopeOf(app, request))
    if (!await dlq.delete(row.id)) throw new NotFoundError('dead letter')
    return await reply.code(204).send(null)
  })

  app.post('/dlq/:id/retry', {
    schema: {
      operationId: 'retryDeadLetter',
      tags,
      summary: 'Run the failed action once more, now, with the observer\'s current definition',
      description: 'delivered: the item is removed; failed: it stays with attempts + 1. 409 while another retry of it runs (OBS_ERR_CONFLICT).',
      params: IdParamsSchema,
      response: { 200: RetryResultSchema, ...errors(404, 409) }
    }
  }, async (request) => {
    const scope = await scopeOf(app, request)
    return await dlq.retry(request.params.id, withScope({}, scope))
  })

  app.post('/dlq/retry-all', {
    schema: {
      operationId: 'retryAllDeadLetters',
      tags,
      summary: 'Retry every dead letter (optionally filtered) once; items being retried elsewhere are skipped',
      body: DeadLetterFilterSchema,
      response: { 200: RetryAllResultSchema, ...bodyErrors() }
    }
  }, async (request) => await dlq.retryAll(withScope(request.body, await scopeOf(app, request))))

  app.post('/dlq/discard-all', {
    schema: {
      operationId: 'discardAllDeadLetters',
      tags,
      summary: 'Discard every dead letter (optionally filtered)',
      body: DeadLetterFilterSchema,
      response: { 200: DiscardAllResultSchema, ...bodyErrors() }
    }
  }, async (request) => ({ discarded: await deleteDeadLetters(app.observers.db, withScope(request.body, await scopeOf(app, request))) }))
}
