// Prometheus metrics of the runtime (needs the admin token, unlike health).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors } from './schemas.js'

export const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/metrics', {
    schema: {
      operationId: 'getMetrics',
      tags: ['runtime'],
      summary: 'Prometheus metrics (text exposition format 0.0.4)',
      response: {
        200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } },
        ...errors()
      }
    }
  }, async (_request, reply) => {
    const registry = app.observers.metrics
    return await reply.type(registry.contentType).send(await registry.metrics())
  })
}
