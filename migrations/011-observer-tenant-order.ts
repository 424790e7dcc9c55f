// A tenant's page of GET /observers reads two ranges (its own observers, then the global ones,
// merged in list order) instead of filtering the whole list's order by tenant. The global ones
// have an index of their own: a range after `tenant_id is null` in a composite index is not one
// PostgreSQL can seek to.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function observerTenantOrder (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create index tb_observer_tenant_order on ${t('tb_observer')} (tenant_id, priority, created_at, pk_observer)
        where deleted_at is null and tenant_id is not null`.execute(db)
      await sql`create index tb_observer_global_order on ${t('tb_observer')} (priority, created_at, pk_observer)
        where deleted_at is null and tenant_id is null`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop index if exists ${t('tb_observer_tenant_order')}`.execute(db)
      await sql`drop index if exists ${t('tb_observer_global_order')}`.execute(db)
    }
  }
}
