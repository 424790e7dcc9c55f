// The logs API's status filter is for finding what went wrong: indexing only the attempts that did
// not succeed spares every successful attempt (nearly all of them) one of the seven index entries
// its log row costs PostgreSQL. `status = 'success'` pages read the primary key newest first,
// where nearly every row matches.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function logStatusIndex (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`drop index if exists ${t('tb_observer_log_status')}`.execute(db)
      await sql`create index tb_observer_log_status on ${t('tb_observer_log')} (status, pk_observer_log) where status <> 'success'`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop index if exists ${t('tb_observer_log_status')}`.execute(db)
      await sql`create index tb_observer_log_status on ${t('tb_observer_log')} (status, pk_observer_log)`.execute(db)
    }
  }
}
