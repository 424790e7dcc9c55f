// Runtime routes: health (no token needed), reload, the instances and their partitions, and the delivery summary.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { getCheckpoint } from '../lib/db/checkpoint.repo.js'
import { START } from '../lib/db/change-log.repo.js'
import { listInstances, recordedPartitions } from '../lib/db/partitions.repo.js'
import { deliverySummary } from '../lib/db/stats.repo.js'
import { HealthSchema } from '../lib/runtime/health.js'
import { DeliveryHealthSchema, InstancesSchema, ReloadResultSchema, errors } from './schemas.js'

export const runtimeHealthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/runtime/health', {
    schema: {
      operationId: 'getRuntimeHealth',
      tags: ['runtime'],
      summary: 'Runtime health: 200 when running or degraded, 503 when stopped',
      security: [],
      response: { 200: HealthSchema, 503: HealthSchema, 500: errors()[500] }
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
      response: { 200: ReloadResultSchema, ...errors() }
    }
  }, async () => {
    const count = await app.observers.reload()
    return { message: `reloaded ${count} observers`, count }
  })

  app.get('/runtime/instances', {
    schema: {
      operationId: 'listRuntimeInstances',
      tags: ['runtime'],
      summary: 'Instances sharing the listener\'s partitions: each one\'s partitions, with their term, checkpoint and lag',
      response: { 200: InstancesSchema, ...errors() }
    }
  }, async () => {
    const { db, schema, options: { runtime } } = app.observers
    // the count recorded: a re-split changes it while instances run
    const partitions = await recordedPartitions(db, runtime.listenerId) ?? runtime.partitions
    return { data: await listInstances(db, schema, runtime.listenerId, partitions, runtime.partitionLeaseMs), partitions }
  })

  app.get('/delivery/health', {
    schema: {
      operationId: 'getDeliveryHealth',
      tags: ['runtime'],
      summary: 'Delivery summary: in flight, retries scheduled, dead letters, age of the oldest pending delivery',
      response: { 200: DeliveryHealthSchema, ...errors() }
    }
  }, async () => {
    const checkpoint = await getCheckpoint(app.observers.db, app.observers.options.runtime.listenerId)
    const summary = await deliverySummary(app.observers.db, checkpoint?.position ?? START)
    const oldest = summary.oldest_pending_at
    return {
      in_flight: app.observers.inFlight(),
      retries_scheduled: summary.retries_scheduled,
      retries_due: summary.retries_due,
      next_retry_at: summary.next_retry_at,
      dead_letters: summary.dead_letters,
      oldest_pending_age_seconds: oldest === null ? 0 : Math.max(0, Math.round((Date.now() - oldest.getTime()) / 10) / 100)
    }
  })
}
