// Tenant scoping of the admin API (the `tenant` option, SPEC section 8 "Tenancy").
//
// Without a resolver the API is global: no scope, any tenant_id may be set.
// With one, each request belongs to the tenant the resolver returns:
// - it reads its own observers and the global ones (tenant_id null), and changes only its own:
//   a global observer answers 403 to a change (the tenant can see it, so 404 would be a lie);
//   another tenant's observer answers 404 (its existence is not disclosed);
// - tenant_id in bodies is forced to the request's tenant;
// - logs, stats, dead letters and the change log are confined to the tenant's own rows;
// - instance-wide operations (moving a checkpoint, attaching or detaching a capture, listing or
//   resetting endpoints) are refused (403).
// A resolver returning null puts the request in the global tenant: it owns the global observers
// and may run instance-wide operations. Resolvers should return null only for operators.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ForbiddenError } from '../lib/errors.js'
import type { TenantScope } from '../lib/db/tenant-scope.js'

export async function scopeOf (app: FastifyInstance, request: FastifyRequest): Promise<TenantScope | undefined> {
  const resolver = app.observers.options.tenant
  if (resolver === undefined) return undefined
  const tenant = await resolver(request)
  return { tenant: typeof tenant === 'string' ? tenant : null }
}

/** Who made a change, for created_by / updated_by: the request's tenant, or null (the API knows no users). */
export function actorOf (scope: TenantScope | undefined): string | null {
  return scope?.tenant ?? null
}

/** Refuses instance-wide operations to a request confined to one tenant. */
export function requireInstanceWide (scope: TenantScope | undefined, what: string): void {
  if (scope !== undefined && scope.tenant !== null) throw new ForbiddenError(`${what} affects every tenant; a tenant's request may not do it`)
}
