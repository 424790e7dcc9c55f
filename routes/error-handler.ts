// Maps errors to Fastify's { statusCode, code, error, message }; 5xx bodies never carry SQL or stacks.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { InternalError } from '../lib/errors.js'

export async function errorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const status = error.statusCode ?? 500
  if (status >= 500) {
    request.log.error({ err: error }, 'admin API request failed')
    const safe = new InternalError(request.id)
    await reply.code(500).send(safe)
    return
  }
  if (error.validation !== undefined) {
    // name the field: "body/name must NOT have fewer than 1 characters"
    error.code = 'OBS_ERR_VALIDATION'
  }
  await reply.code(status).send(error)
}
