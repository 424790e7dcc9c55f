// Observer definitions: list, create, read, change, soft delete, enable/disable.
// Every change asks the runtime to reload; the table's trigger NOTIFYs the other instances.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { listObserverPage } from '../lib/db/observer-list.repo.js'
import {
  NAME_TAKEN, findVisibleObserver, insertObserver, softDeleteObserver, updateObserver,
  type ObserverChanges, type StoredObserver
} from '../lib/db/observers.repo.js'
import type { TenantScope } from '../lib/db/tenant-scope.js'
import { ForbiddenError, NameTakenError, NotFoundError, ValidationError } from '../lib/errors.js'
import { DEFAULT_TIMEOUT_MS, type ActionConfig } from '../lib/model.js'
import { decodeObserverCursor, encodeObserverCursor } from './observer-cursor.js'
import { checkObserverInput, redactObserver, refuseRedacted, restoreSecrets } from './observer-input.js'
import {
  CreateObserverSchema, IdParamsSchema, NoContentSchema, ObserverListQuerySchema, ObserverPageSchema,
  ObserverSchema, PatchObserverSchema, bodyErrors, errors
} from './schemas.js'
import { actorOf, scopeOf } from './tenancy.js'

const tags = ['observers']

/** The observer the scope may change: 404 when it cannot see it, 403 when it is a global one. */
async function writableObserver (app: FastifyInstance, id: string, scope: TenantScope | undefined): Promise<StoredObserver> {
  const observer = await findVisibleObserver(app.observers.db, id, scope)
  if (observer === undefined) throw new NotFoundError('observer')
  if (scope !== undefined && observer.tenant_id !== scope.tenant) throw new ForbiddenError('global observers are read-only to a tenant')
  return observer
}

export const observerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.observers.db
  const serve = (observer: StoredObserver): StoredObserver => redactObserver(app, observer)

  // `/observers` is documented; `/observers/` answers the same, undocumented (with Fastify's
  // default 'both' the document would show only the slash form)
  for (const [url, hide] of [['', false], ['/', true]] as const) {
    app.get(url, {
      prefixTrailingSlash: 'slash',
      schema: {
        hide,
        operationId: 'listObservers',
        tags,
        summary: 'List observers, ordered by priority then creation',
        querystring: ObserverListQuerySchema,
        response: { 200: ObserverPageSchema, ...errors() }
      }
    }, async (request) => {
      const q = request.query
      const scope = await scopeOf(app, request)
      const filter = { entity_type: q.entity_type, event_type: q.event_type?.toUpperCase(), enabled: q.enabled, include_deleted: q.include_deleted }
      if (q.cursor !== undefined && q.page !== 1) throw new ValidationError('querystring/cursor: give page or cursor, not both')
      const cursor = q.cursor === undefined ? undefined : decodeObserverCursor(q.cursor)
      const page = cursor?.page ?? q.page
      const position = cursor === undefined ? { offset: (q.page - 1) * q.page_size } : { after: cursor.after }
      const listed = await listObserverPage(db, app.observers.schema, filter, scope, q.page_size, position)
      return {
        data: listed.data.map(serve),
        page,
        page_size: q.page_size,
        total_count: listed.total,
        total_pages: Math.ceil(listed.total / q.page_size),
        total_estimated: listed.totalEstimated,
        next_cursor: listed.next === undefined ? null : encodeObserverCursor({ after: listed.next, page: page + 1 })
      }
    })

    app.post(url, {
      prefixTrailingSlash: 'slash',
      schema: {
        hide,
        operationId: 'createObserver',
        tags,
        summary: 'Create an observer',
        description: 'The condition is parsed and every action validated by its own schema (400 naming the field). ' +
        'With a tenant resolver, tenant_id is the request\'s tenant whatever the body says. created_by is the request\'s tenant or null.',
        body: CreateObserverSchema,
        response: { 201: ObserverSchema, ...bodyErrors(409) }
      }
    }, async (request, reply) => {
      const scope = await scopeOf(app, request)
      const input = checkObserverInput(app, request.body)
      refuseRedacted(input.actions)
      const actor = actorOf(scope)
      const created = await insertObserver(db, {
        name: input.name,
        description: input.description ?? null,
        entity_type: input.entity_type ?? null,
        event_type: input.event_type ?? null,
        condition_expression: input.condition_expression ?? null,
        actions: input.actions as ActionConfig[],
        enabled: input.enabled ?? true,
        priority: input.priority ?? 100,
        retry_config: input.retry_config ?? null,
        timeout_ms: input.timeout_ms ?? DEFAULT_TIMEOUT_MS,
        ordering: input.ordering ?? 'none',
        on_dead_letter: input.on_dead_letter ?? 'skip',
        tenant_id: scope === undefined ? input.tenant_id ?? null : scope.tenant,
        created_by: actor,
        updated_by: actor
      })
      if (created === NAME_TAKEN) throw new NameTakenError(input.name)
      app.observers.requestReload()
      return await reply.code(201).send(serve(created))
    })
  }

  app.get('/:id', {
    schema: {
      operationId: 'getObserver',
      tags,
      summary: 'One observer (404 when unknown or soft-deleted)',
      params: IdParamsSchema,
      response: { 200: ObserverSchema, ...errors(404) }
    }
  }, async (request) => {
    const observer = await findVisibleObserver(db, request.params.id, await scopeOf(app, request))
    if (observer === undefined) throw new NotFoundError('observer')
    return serve(observer)
  })

  app.patch('/:id', {
    schema: {
      operationId: 'updateObserver',
      tags,
      summary: 'Change some fields of an observer; null clears a nullable field',
      description: 'Secrets sent back as "[redacted]" keep their stored value (same action index and type). ' +
        'tenant_id can be changed only without a tenant resolver.',
      params: IdParamsSchema,
      body: PatchObserverSchema,
      response: { 200: ObserverSchema, ...bodyErrors(403, 404, 409) }
    }
  }, async (request) => {
    const scope = await scopeOf(app, request)
    const current = await writableObserver(app, request.params.id, scope)
    const body = { ...request.body }
    if (scope !== undefined) delete body.tenant_id
    if (body.actions !== undefined) body.actions = restoreSecrets(body.actions as ActionConfig[], current.actions)
    const changes = checkObserverInput(app, body, current) as ObserverChanges
    const updated = await updateObserver(db, current.id, { ...changes, updated_by: actorOf(scope) }, scope)
    if (updated === NAME_TAKEN) throw new NameTakenError(body.name ?? current.name)
    if (updated === undefined) throw new NotFoundError('observer')
    app.observers.requestReload()
    return serve(updated)
  })

  app.delete('/:id', {
    schema: {
      operationId: 'deleteObserver',
      tags,
      summary: 'Soft-delete an observer (its name becomes free; its log and stats stay readable)',
      params: IdParamsSchema,
      response: { 204: NoContentSchema, ...errors(403, 404) }
    }
  }, async (request, reply) => {
    const scope = await scopeOf(app, request)
    const current = await writableObserver(app, request.params.id, scope)
    if (!await softDeleteObserver(db, current.id, scope, actorOf(scope))) throw new NotFoundError('observer')
    app.observers.requestReload()
    return await reply.code(204).send(null)
  })

  for (const [action, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(`/:id/${action}`, {
      schema: {
        operationId: `${action}Observer`,
        tags,
        summary: `${action === 'enable' ? 'Enable' : 'Disable'} an observer (takes effect for the next event)`,
        params: IdParamsSchema,
        response: { 200: ObserverSchema, ...errors(403, 404) }
      }
    }, async (request) => {
      const scope = await scopeOf(app, request)
      const current = await writableObserver(app, request.params.id, scope)
      const updated = await updateObserver(db, current.id, { enabled, updated_by: actorOf(scope) }, scope)
      if (updated === undefined || updated === NAME_TAKEN) throw new NotFoundError('observer')
      app.observers.requestReload()
      return serve(updated)
    })
  }
}
