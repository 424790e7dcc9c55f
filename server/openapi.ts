// The OpenAPI document's frame, shared by the standalone server and `npm run openapi`.
import type { SwaggerOptions } from '@fastify/swagger'

export const swaggerOptions: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'fastify-observers admin API',
      description: [
        'Manage observers: what to run when rows change in PostgreSQL.',
        '',
        '- Authentication: a bearer token (or the host\'s own check) on every route but `/observers/runtime/health`.',
        '- Errors: `{ statusCode, code, error, message }` with a stable `OBS_ERR_*` code; a message about a request part names the field ' +
          '(`body/name must not have fewer than 1 characters`); unknown body fields are a 400, and so is text PostgreSQL cannot store ' +
          '(a NUL byte, a lone UTF-16 surrogate) anywhere in a request; 5xx bodies never carry SQL.',
        '- Pagination: observers by `page`/`page_size`; logs and dead letters by keyset, passing `next_cursor` back as `cursor` (opaque); ' +
          'the change log by change-log id (`after_cursor`). A limit above its maximum is a 400.',
        '- Secrets (header values, signing secrets, Slack URLs) are served as `[redacted]`; sending `[redacted]` back keeps the stored value.',
        '- Tenancy (with the `tenant` option): a request sees its tenant\'s observers and the global ones; global ones are read-only to it (403), ' +
          'another tenant\'s answer 404; `tenant_id` in bodies is forced to the request\'s tenant; logs, stats, dead letters and the change log are ' +
          'confined to the tenant; moving a checkpoint, attaching or detaching a capture, and listing or resetting endpoints are refused (403). ' +
          'A resolver returning null puts the request in the global tenant.'
      ].join('\n'),
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
      { name: 'endpoints', description: 'Destinations of actions: circuit breakers, pauses and rate limits' },
      { name: 'change-log', description: 'Change log, checkpoints and captures' }
    ]
  }
}
