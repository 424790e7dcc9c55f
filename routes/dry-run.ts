// POST /test: would this observer match this event, and what would each action send? Sends nothing.
import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static } from 'typebox'
import type { FastifyInstance } from 'fastify'
import { findChangeLogRow } from '../lib/db/changelog-browse.repo.js'
import { findVisibleObserver } from '../lib/db/observers.repo.js'
import type { TenantScope } from '../lib/db/tenant-scope.js'
import { NotFoundError, ValidationError } from '../lib/errors.js'
import { DEFAULT_TIMEOUT_MS, type ActionConfig, type ModificationType, type Observer, type ObserverEvent } from '../lib/model.js'
import { idempotencyKey } from '../lib/runtime/delivery/delivery.js'
import { diffImages, toEnvelope, toEvent } from '../lib/runtime/delivery/event.js'
import { explainMatch } from '../lib/runtime/observers/matcher.js'
import { checkObserverInput } from './observer-input.js'
import { DryRunBodySchema, DryRunResultSchema, bodyErrors, type CreateObserverSchema, type DryRunEventSchema } from './schemas.js'
import { scopeOf } from './tenancy.js'
import { cursorText } from './schemas/cursor-input.js'

type DryRunBody = Static<typeof DryRunBodySchema>

function unsavedObserver (app: FastifyInstance, body: Static<typeof CreateObserverSchema>, scope: TenantScope | undefined): Observer {
  const input = checkObserverInput(app, body)
  const now = new Date()
  return {
    id: randomUUID(),
    name: input.name,
    description: input.description ?? null,
    entity_type: input.entity_type ?? null,
    event_type: (input.event_type ?? null) as ModificationType | null,
    condition_expression: input.condition_expression ?? null,
    actions: input.actions as ActionConfig[],
    enabled: input.enabled ?? true,
    priority: input.priority ?? 100,
    retry_config: null,
    timeout_ms: input.timeout_ms ?? DEFAULT_TIMEOUT_MS,
    ordering: input.ordering ?? 'none',
    on_dead_letter: input.on_dead_letter ?? 'skip',
    tenant_id: scope === undefined ? input.tenant_id ?? null : scope.tenant,
    created_at: now,
    updated_at: now,
    created_by: null,
    updated_by: null,
    deleted_at: null
  }
}

function eventFrom (input: Static<typeof DryRunEventSchema>, scope: TenantScope | undefined): ObserverEvent {
  const type = input.event_type.toUpperCase() as ModificationType
  const data = input.data ?? null
  const before = type === 'INSERT' || type === 'READ' ? null : input.before ?? null
  const changes = input.changes !== undefined ? input.changes : type === 'UPDATE' && before !== null ? diffImages(before, data) : null
  return {
    event_id: randomUUID(),
    event_type: type,
    entity_type: input.entity_type,
    entity_id: input.entity_id ?? '',
    // a tenant tries its observers on its own events only
    tenant_id: scope === undefined ? input.tenant_id ?? null : scope.tenant,
    user_id: input.user_id ?? null,
    timestamp: input.timestamp ?? new Date().toISOString(),
    data,
    before,
    changes,
    trace_id: null,
    change_log_id: null
  }
}

async function resolve (app: FastifyInstance, body: DryRunBody, scope: TenantScope | undefined): Promise<{ observer: Observer, event: ObserverEvent }> {
  if ((body.observer === undefined) === (body.observer_id === undefined)) throw new ValidationError('body must have exactly one of observer, observer_id')
  if ((body.event === undefined) === (body.change_log_id === undefined)) throw new ValidationError('body must have exactly one of event, change_log_id')
  let observer: Observer | undefined
  if (body.observer !== undefined) observer = unsavedObserver(app, body.observer, scope)
  else {
    observer = await findVisibleObserver(app.observers.db, body.observer_id as string, scope)
    if (observer === undefined) throw new NotFoundError('observer')
  }
  if (body.event !== undefined) return { observer, event: eventFrom(body.event, scope) }
  const row = await findChangeLogRow(app.observers.db, cursorText(body.change_log_id as string | number), scope)
  if (row === undefined) throw new NotFoundError('change-log row')
  try {
    return { observer, event: toEvent(row) }
  } catch (err) {
    throw new ValidationError(`change_log_id: ${(err as Error).message}`)
  }
}

export const dryRunRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/test', {
    schema: {
      operationId: 'dryRunObserver',
      tags: ['observers'],
      summary: 'Dry run: does an observer match an event, and what would each action send (secrets redacted)? Sends nothing',
      description: 'Give exactly one of observer (a create body) or observer_id, and one of event or change_log_id.',
      body: DryRunBodySchema,
      response: { 200: DryRunResultSchema, ...bodyErrors(404) }
    }
  }, async (request) => {
    const { observer, event } = await resolve(app, request.body, await scopeOf(app, request))
    const explanation = explainMatch(observer, event)
    const envelope = toEnvelope(event, observer)
    const actions = await Promise.all(observer.actions.map(async (action, index) => {
      const ctx = {
        observer: { id: observer.id, name: observer.name },
        actionIndex: index,
        idempotencyKey: idempotencyKey(event.event_id, observer.id, index),
        timeoutMs: typeof action.timeout_ms === 'number' ? action.timeout_ms : observer.timeout_ms
      }
      try {
        return { index, type: action.type, request: await app.observers.actions.render(envelope, action, ctx) }
      } catch (err) {
        return { index, type: action.type, request: null, error: err instanceof Error ? err.message : String(err) }
      }
    }))
    return { ...explanation, actions }
  })
}
