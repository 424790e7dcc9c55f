// Runtime routes: health (no token needed) and reload.
import { Type } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthSchema } from '../lib/runtime/health.js'

export const runtimeHealthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/runtime/health', {
    schema: {
      operationId: 'getRuntimeHealth',
      tags: ['runtime'],
      summary: 'Runtime health: 200 when running or degraded, 503 when stopped',
      security: [],
      response: { 200: HealthSchema, 503: HealthSchema }
    },
    config: { public: true }
  }, async (_request, reply) => {
    const health = await app.observers.health()
    return await reply.code(health.status === 'stopped' ? 503 : 200).send(health)
  })
}

export const runtimeRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/runtime/reload', {
    schema: {
      operationId: 'reloadRuntime',
      tags: ['runtime'],
      summary: 'Reload the observers now',
      response: { 200: Type.Object({ message: Type.String(), count: Type.Integer() }) }
    }
  }, async () => {
    const count = await app.observers.reload()
    return { message: `reloaded ${count} observers`, count }
  })
}
