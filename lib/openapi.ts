// The OpenAPI document's frame, shared by the standalone server and `npm run openapi`.
import type { SwaggerOptions } from '@fastify/swagger'

export const swaggerOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'fastify-observers admin API',
      description: 'Manage observers: what to run when rows change in PostgreSQL.',
      version: '0.1.0'
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }
    },
    security: [{ bearer: [] }],
    tags: [
      { name: 'observers', description: 'Observer definitions' },
      { name: 'logs', description: 'Execution log and statistics' },
      { name: 'runtime', description: 'Runtime health and control' },
      { name: 'dead-letters', description: 'Failed actions awaiting an operator' },
      { name: 'change-log', description: 'Change log, checkpoints and captures' }
    ]
  }
}
