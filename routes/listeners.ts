// A listener's partitions: the count it runs with and the re-split under way (GET), and the
// re-split itself (PUT), which waits for the switch (lib/runtime/README.md, "Re-splitting").
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { listenerState, requestResplit, type ListenerState } from '../lib/db/resplit.repo.js'
import { ConflictError, NotFoundError } from '../lib/errors.js'
import { awaitResplit } from '../lib/runtime/partitions/resplit.js'
import { ListenerParamsSchema, ListenerSchema, ResplitQuerySchema, ResplitSchema, bodyErrors, errors } from './schemas.js'
import { requireInstanceWide, scopeOf } from './tenancy.js'

const tags = ['runtime']

const serve = (state: ListenerState) => ({
  listener_id: state.listener_id,
  partitions: state.partitions,
  resplit: state.resplit === null
    ? null
    : {
        partitions: state.resplit.partitions,
        requested_at: state.resplit.requested_at,
        barrier_txid: state.resplit.barrier_txid,
        partitions_at_barrier: state.resplit.at_barrier.length
      }
})

export const listenerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, schema } = app.observers

  app.get('/listeners/:listener_id', {
    schema: {
      operationId: 'getListener',
      tags,
      summary: 'A listener\'s partition count, and the re-split under way with how far it is',
      params: ListenerParamsSchema,
      response: { 200: ListenerSchema, ...errors(404) }
    }
  }, async (request) => {
    const state = await listenerState(db, schema, request.params.listener_id)
    if (state === undefined) throw new NotFoundError('listener')
    return serve(state)
  })

  app.put('/listeners/:listener_id', {
    schema: {
      operationId: 'resplitListener',
      tags,
      summary: 'Re-split a listener\'s stream into another number of partitions, losing nothing and keeping per-key order',
      description: 'Every partition reads the changes committed before the request, then waits; once all have, the count switches and the ' +
        'instances read the new partitions from there. 200 once switched (or when the count is already that one; the current count ' +
        'cancels a re-split under way). 202 when the switch has not come within wait_seconds: the re-split goes on, GET shows how far ' +
        'it is (a transaction left open from before the request holds it back until it ends). 409 while a re-split to another count is ' +
        'under way, or to or from 1 partition. Start the instances with the new runtime.partitions afterwards. Refused (403) to a tenant\'s request.',
      params: ListenerParamsSchema,
      querystring: ResplitQuerySchema,
      body: ResplitSchema,
      response: { 200: ListenerSchema, 202: ListenerSchema, ...bodyErrors(403, 404, 409) }
    }
  }, async (request, reply) => {
    requireInstanceWide(await scopeOf(app, request), 're-splitting a listener')
    const { listener_id: listenerId } = request.params
    const { partitions } = request.body
    const current = await listenerState(db, schema, listenerId)
    if (current === undefined) throw new NotFoundError('listener')
    if ((current.partitions === 1 || partitions === 1) && partitions !== current.partitions) {
      throw new ConflictError(`listener ${listenerId} cannot go from ${current.partitions} to ${partitions} partitions: ` +
        're-splitting to or from 1 partition is not supported (one partition reads the whole stream under its own checkpoint)')
    }
    const asked = await requestResplit(db, schema, listenerId, partitions)
    if (asked === 'unknown') throw new NotFoundError('listener')
    if (typeof asked === 'object') {
      throw new ConflictError(`a re-split of listener ${listenerId} to ${asked.underWay} partitions is under way: ` +
        `wait for it (GET /listeners/${listenerId}), or cancel it with { "partitions": ${current.partitions} }`)
    }
    const state = await awaitResplit(db, schema, listenerId, request.query.wait_seconds * 1000)
    if (state === undefined) throw new NotFoundError('listener')
    if (state.resplit !== null) return await reply.code(202).send(serve(state))
    if (state.partitions !== partitions) throw new ConflictError(`the re-split of listener ${listenerId} to ${partitions} partitions was cancelled`)
    return serve(state)
  })
}
