// How an admin request sees the data of a multi-tenant install (the `tenant` option). Without a
// resolver there is no scope: the API is global. With one, the request belongs to one tenant
// (null = the global tenant, which owns the global observers).
import { sql, type Expression, type SqlBool } from 'kysely'

export interface TenantScope {
  tenant: string | null
}

/** `column` belongs to the scope's tenant (null matches null). */
export function ownedBy (column: string, scope: TenantScope): Expression<SqlBool> {
  return sql<SqlBool>`${sql.ref(column)} is not distinct from ${scope.tenant}`
}

/** `column` belongs to the scope's tenant or is global (null): what a tenant may read. */
export function visibleTo (column: string, scope: TenantScope): Expression<SqlBool> {
  return scope.tenant === null
    ? sql<SqlBool>`${sql.ref(column)} is null`
    : sql<SqlBool>`(${sql.ref(column)} = ${scope.tenant} or ${sql.ref(column)} is null)`
}
