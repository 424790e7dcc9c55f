// Dead letters are removed by age (retention.deadLetterDays): an index on the age lets each short
// batch find the oldest without scanning the table.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function deadLetterAge (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create index tb_observer_dead_letter_age on ${t('tb_observer_dead_letter')} (last_failed_at)`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop index if exists ${t('tb_observer_dead_letter_age')}`.execute(db)
    }
  }
}
