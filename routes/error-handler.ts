// Maps errors to Fastify's { statusCode, code, error, message } with stable OBS_ERR_* codes;
// 5xx bodies never carry SQL or stacks (the log has them, under the request id).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import {
  BadRequestError, BodyTooLargeError, InternalError, InvalidJsonError, RouteNotFoundError, UnsupportedMediaTypeError
} from '../lib/errors.js'
import { clientFault } from './database-errors.js'

// Fastify's own 4xx errors (body parsing, content type), renamed into the API's codes
function translate (error: FastifyError, limit: number | undefined): FastifyError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return new BodyTooLargeError(String(limit ?? 'the limit'))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return new UnsupportedMediaTypeError(error.message)
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return new InvalidJsonError(error.message)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return new BadRequestError(error.message)
  }
  if (error.code?.startsWith('OBS_ERR_') === true) return error
  const translated = new BadRequestError(error.message)
  // keeps the status of any other 4xx (the code says only "bad request")
  ;(translated as { statusCode?: number }).statusCode = error.statusCode
  return translated
}

export async function errorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const fault = error.statusCode === undefined ? clientFault(error, request) : undefined
  if (fault !== undefined) {
    // a check the edge could make is missing: the log says which statement refused what
    request.log.warn({ err: error }, 'the database refused a request value')
    await reply.code(400).send(fault)
    return
  }
  const status = error.statusCode ?? 500
  if (status >= 500) {
    request.log.error({ err: error }, 'admin API request failed')
    await reply.code(500).send(new InternalError(request.id))
    return
  }
  if (error.code === 'OBS_ERR_UNAUTHORIZED') reply.header('www-authenticate', 'Bearer')
  const safe = translate(error, request.routeOptions.bodyLimit)
  await reply.code(safe.statusCode ?? status).send(safe)
}

export async function notFoundHandler (request: FastifyRequest): Promise<never> {
  throw new RouteNotFoundError(`${request.method} ${request.url.split('?')[0]}`)
}
