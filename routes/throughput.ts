// The console's overview: deliveries per second and lag over the last 15 minutes, and the newest
// change-log rows (the dry run's recent real events).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { recentChanges } from '../lib/db/recent-changes.repo.js'
import { RecentChangesQuerySchema, RecentChangesSchema, ThroughputQuerySchema, ThroughputSchema, errors } from './schemas.js'
import { requireInstanceWide, scopeOf } from './tenancy.js'

export const throughputRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/runtime/throughput', {
    schema: {
      operationId: 'getThroughput',
      tags: ['runtime'],
      summary: 'Deliveries per second and lag over the last seconds (up to 15 minutes), merged across instances',
      description: 'Each instance counts its attempts per second in memory and writes them every few seconds; this instance\'s seconds are current, ' +
        'the others\' up to about 5 s late. Refused (403) to a tenant\'s request.',
      querystring: ThroughputQuerySchema,
      response: { 200: ThroughputSchema, ...errors(403) }
    }
  }, async (request) => {
    requireInstanceWide(await scopeOf(app, request), 'reading the throughput')
    return await app.observers.throughput(request.query.seconds)
  })

  app.get('/changelog/recent', {
    schema: {
      operationId: 'listRecentChanges',
      tags: ['change-log'],
      summary: 'The newest change-log rows, optionally of one object type (with a tenant resolver: the tenant\'s rows)',
      querystring: RecentChangesQuerySchema,
      response: { 200: RecentChangesSchema, ...errors() }
    }
  }, async (request) => {
    const q = request.query
    return { entries: await recentChanges(app.observers.db, q.limit, q.object_type, await scopeOf(app, request)) }
  })
}
