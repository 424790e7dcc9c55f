// A version number bumped by every change to tb_observer, read by the reader in the same snapshot
// as each batch: a batch never meets a matcher older than the observer changes committed before it.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function observerVersion (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create table ${t('tb_observer_version')} (
        singleton boolean primary key default true check (singleton),
        version bigint not null default 0)`.execute(db)
      await sql`insert into ${t('tb_observer_version')} default values`.execute(db)
      await sql`
        create or replace function ${t('bump_observer_version')}() returns trigger
        language plpgsql set search_path = ${sql.id(schema)}, pg_catalog as $fn$
        begin
          update tb_observer_version set version = version + 1;
          return null;
        end
        $fn$`.execute(db)
      await sql`create trigger bump_observer_version after insert or update or delete on ${t('tb_observer')}
        for each statement execute function ${t('bump_observer_version')}()`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop trigger if exists bump_observer_version on ${t('tb_observer')}`.execute(db)
      await sql`drop function if exists ${t('bump_observer_version')}()`.execute(db)
      await sql`drop table if exists ${t('tb_observer_version')}`.execute(db)
    }
  }
}
