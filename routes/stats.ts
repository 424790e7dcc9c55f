// Per-observer statistics: totals by status, success rate, durations, last run, dead letters.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { observerStats } from '../lib/db/stats.repo.js'
import { NotFoundError } from '../lib/errors.js'
import { requireHistory } from './logs.js'
import { IdParamsSchema, ObserverStatsSchema, StatsListSchema, StatsQuerySchema, errors } from './schemas.js'
import { scopeOf } from './tenancy.js'

const tags = ['logs']
const since = (value: string | undefined): Date | undefined => value === undefined ? undefined : new Date(value)

export const statsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/stats', {
    schema: {
      operationId: 'listObserverStats',
      tags,
      summary: 'Statistics of every live observer (with a tenant resolver: the tenant\'s own)',
      querystring: StatsQuerySchema,
      response: { 200: StatsListSchema, ...errors() }
    }
  }, async (request) => {
    const scope = await scopeOf(app, request)
    return { data: await observerStats(app.observers.db, { since: since(request.query.since), scope }) }
  })

  app.get('/:id/stats', {
    schema: {
      operationId: 'getObserverStats',
      tags,
      summary: 'Statistics of one observer (soft-deleted ones included)',
      params: IdParamsSchema,
      querystring: StatsQuerySchema,
      response: { 200: ObserverStatsSchema, ...errors(403, 404) }
    }
  }, async (request) => {
    const scope = await scopeOf(app, request)
    await requireHistory(app, request.params.id, scope)
    const [stats] = await observerStats(app.observers.db, { observerId: request.params.id, since: since(request.query.since) })
    if (stats === undefined) throw new NotFoundError('observer')
    return stats
  })
}
