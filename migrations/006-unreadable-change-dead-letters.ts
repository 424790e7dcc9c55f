// A change-log row the runtime cannot turn into an event (an application wrote it by hand) is
// dead-lettered as a whole, with no observer or action: those columns become nullable, and such a
// row is dead-lettered once per event (NULLs never conflict in the action-level unique constraint).
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function unreadableChangeDeadLetters (schema: string): Migration {
  const table = sql.id(schema, 'tb_observer_dead_letter')
  const columns = ['observer_id', 'observer_name', 'action_index', 'action_type']
  return {
    async up (db: Kysely<any>) {
      for (const column of columns) await sql`alter table ${table} alter column ${sql.id(column)} drop not null`.execute(db)
      await sql`create unique index tb_observer_dead_letter_unreadable on ${table} (event_id) where observer_id is null`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`delete from ${table} where observer_id is null`.execute(db)
      await sql`drop index ${sql.id(schema, 'tb_observer_dead_letter_unreadable')}`.execute(db)
      for (const column of columns) await sql`alter table ${table} alter column ${sql.id(column)} set not null`.execute(db)
    }
  }
}
