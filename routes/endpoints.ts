// Endpoint protection (SPEC 9.3): the endpoints with their circuits, and closing one by hand.
// Both are instance-wide (an endpoint is shared by every tenant's observers sending there).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { originOf } from '../lib/actions/common.js'
import { parseServerSet } from '../lib/actions/nats-config.js'
import { ValidationError } from '../lib/errors.js'
import { ENDPOINT_PROBLEM, EndpointListSchema, ResetEndpointResultSchema, ResetEndpointSchema, bodyErrors, errors } from './schemas.js'
import { requireInstanceWide, scopeOf } from './tenancy.js'

const tags = ['endpoints']

function natsEndpoint (text: string): string | null {
  const set = parseServerSet(text)
  return typeof set === 'string' ? null : set.endpoint
}

export const endpointRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/endpoints', {
    schema: {
      operationId: 'listEndpoints',
      tags,
      summary: 'Endpoints (action destination origins) with their circuit, pause, rate limit and waiting deliveries',
      description: 'Every endpoint with a stored state or an enabled observer sending there. in_flight is this instance\'s; ' +
        'the window counts and waiting count every instance\'s. Refused (403) to a tenant\'s request.',
      response: { 200: EndpointListSchema, ...errors(403) }
    }
  }, async (request) => {
    requireInstanceWide(await scopeOf(app, request), 'listing endpoints')
    return { data: await app.observers.endpoints.list() }
  })

  app.post('/endpoints/reset', {
    schema: {
      operationId: 'resetEndpoint',
      tags,
      summary: 'Close an endpoint\'s circuit by hand; what waited for it is due at once',
      description: 'Works on an open, half-open or disabled endpoint (closed: false when it was closed already). ' +
        'With enable_observers, the observers disabled because this endpoint was are enabled again and their disabled_reason cleared. ' +
        'The endpoint is normalised to its origin (`https://Example.com:443` is `https://example.com`), a NATS server set to its sorted form ' +
        '(`nats://b:4222,nats://a` is `nats://a:4222,nats://b:4222`). Refused (403) to a tenant\'s request.',
      body: ResetEndpointSchema,
      response: { 200: ResetEndpointResultSchema, ...bodyErrors(403) }
    }
  }, async (request) => {
    requireInstanceWide(await scopeOf(app, request), 'resetting an endpoint')
    // the pattern admits what only the URL parser refuses (port 99999, address 999.0.0.1)
    const endpoint = /^(nats|tls):\/\//i.test(request.body.endpoint) ? natsEndpoint(request.body.endpoint) : originOf(request.body.endpoint)
    if (endpoint === null) throw new ValidationError(`body/endpoint ${ENDPOINT_PROBLEM}`)
    const { closed } = await app.observers.endpoints.reset(endpoint, request.body.enable_observers ?? false)
    return { endpoint, closed }
  })
}
