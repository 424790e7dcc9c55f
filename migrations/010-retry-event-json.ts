// A retry's event is kept as `json`, not `jsonb`: it is written once and read back whole, never
// queried inside but for a few fields when an endpoint is disabled, and turning the text into
// jsonb was most of what writing a retry row cost PostgreSQL (65 – 75 µs of CPU a row against
// 25; bench/README.md). Every delivery waiting for a busy or open endpoint writes one.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function retryEventJson (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer_retry')} alter column event type json using event::json`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer_retry')} alter column event type jsonb using event::jsonb`.execute(db)
    }
  }
}
