// The capture trigger on application tables: list, attach, detach. Table and column names are
// checked against the catalog and quoted by the repository, never spliced into SQL.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { AlreadyAttachedError, InvalidTableError, NotFoundError } from '../lib/errors.js'
import { AttachCaptureSchema, CaptureParamsSchema, CaptureSchema, NoContentSchema, bodyErrors, errors } from './schemas.js'
import { requireInstanceWide, scopeOf } from './tenancy.js'

const tags = ['change-log']

export const captureRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const captures = app.observers.captures

  app.get('/captures', {
    schema: {
      operationId: 'listCaptures',
      tags,
      summary: 'Tables whose changes are captured into the change log',
      response: { 200: Type.Object({ data: Type.Array(CaptureSchema) }), ...errors() }
    }
  }, async () => ({ data: await captures.list() }))

  app.post('/captures', {
    schema: {
      operationId: 'attachCapture',
      tags,
      summary: 'Attach the capture trigger to a table',
      description: '400 OBS_ERR_INVALID_TABLE when the table or column does not exist; 409 OBS_ERR_ALREADY_ATTACHED. Refused (403) to a tenant\'s request.',
      body: AttachCaptureSchema,
      response: { 201: CaptureSchema, ...bodyErrors(403, 409) }
    }
  }, async (request, reply) => {
    requireInstanceWide(await scopeOf(app, request), 'attaching a capture')
    const result = await captures.attach(request.body)
    if (!result.ok) {
      if (result.reason === 'attached') throw new AlreadyAttachedError(result.message)
      throw new InvalidTableError(result.message)
    }
    return await reply.code(201).send(result.capture)
  })

  app.delete('/captures/:schema/:table', {
    schema: {
      operationId: 'detachCapture',
      tags,
      summary: 'Detach the capture trigger from a table',
      params: CaptureParamsSchema,
      response: { 204: NoContentSchema, ...errors(403, 404) }
    }
  }, async (request, reply) => {
    requireInstanceWide(await scopeOf(app, request), 'detaching a capture')
    if (!await captures.detach(request.params.schema, request.params.table)) throw new NotFoundError('capture')
    return await reply.code(204).send(null)
  })
}
