// The execution log: one row per action attempt, newest first, keyset-paginated.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { listLogs, type LogFilter } from '../lib/db/logs.repo.js'
import { ownsObserverHistory } from '../lib/db/observers.repo.js'
import type { TenantScope } from '../lib/db/tenant-scope.js'
import { ForbiddenError, NotFoundError, ValidationError } from '../lib/errors.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { IdParamsSchema, LogPageSchema, LogQuerySchema, ObserverLogQuerySchema, errors } from './schemas.js'
import { scopeOf } from './tenancy.js'

const tags = ['logs']

/**
 * The history of one observer (deleted ones included) is readable by its owner. A tenant may not
 * read a global observer's history: it holds every tenant's events.
 */
export async function requireHistory (app: FastifyInstance, id: string, scope: TenantScope | undefined): Promise<void> {
  const access = await ownsObserverHistory(app.observers.db, id, scope)
  if (access === 'unknown') throw new NotFoundError('observer')
  if (access === 'global') throw new ForbiddenError('the history of a global observer spans every tenant')
}

interface LogQuery extends Omit<LogFilter, 'since' | 'until'> {
  since?: string
  until?: string
  limit: number
  cursor?: string
}

async function page (app: FastifyInstance, query: LogQuery, scope: TenantScope | undefined) {
  const { limit, cursor, since, until, ...rest } = query
  // entity ids are unique only within an entity type; the index is (entity_type, entity_id, pk)
  if (rest.entity_id !== undefined && rest.entity_type === undefined) throw new ValidationError('querystring/entity_id needs entity_type')
  const filter: LogFilter = { ...rest, since: since === undefined ? undefined : new Date(since), until: until === undefined ? undefined : new Date(until) }
  const { data, next } = await listLogs(app.observers.db, filter, scope, limit, decodeCursor(cursor))
  return { data, next_cursor: next === null ? null : encodeCursor(next) }
}

export const logRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/logs', {
    schema: {
      operationId: 'listLogs',
      tags,
      summary: 'Action attempts, newest first',
      description: 'Keyset pagination: pass next_cursor back as cursor. With a tenant resolver, only the attempts of the tenant\'s own observers.',
      querystring: LogQuerySchema,
      response: { 200: LogPageSchema, ...errors() }
    }
  }, async (request) => await page(app, request.query, await scopeOf(app, request)))

  app.get('/:id/logs', {
    schema: {
      operationId: 'listObserverLogs',
      tags,
      summary: 'Action attempts of one observer (soft-deleted ones included), newest first',
      params: IdParamsSchema,
      querystring: ObserverLogQuerySchema,
      response: { 200: LogPageSchema, ...errors(403, 404) }
    }
  }, async (request) => {
    const scope = await scopeOf(app, request)
    await requireHistory(app, request.params.id, scope)
    return await page(app, { ...request.query, observer_id: request.params.id }, scope)
  })
}
