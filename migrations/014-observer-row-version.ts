// Each observer row carries the version of the change that last wrote it, so an instance reloads
// only the rows written since the version it holds (SPEC 9.9). The statement trigger now bumps the
// version BEFORE the rows are written and holds the version row's lock until commit: versions are
// handed out in commit order, and a snapshot that sees version V sees every row written at V or
// below. A hard delete or a truncate cannot be seen in the rows: it records `full_since`, and an
// instance that has not loaded that version reloads everything.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function observerRowVersion (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  const path = sql.id(schema)
  return {
    async up (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer_version')} add column full_since bigint not null default 0`.execute(db)
      await sql`alter table ${t('tb_observer')} add column version bigint not null default 0`.execute(db)
      await sql`update ${t('tb_observer')} set version = (select version from ${t('tb_observer_version')})`.execute(db)
      await sql`create index tb_observer_row_version on ${t('tb_observer')} (version, pk_observer)`.execute(db)
      await sql`drop trigger if exists bump_observer_version on ${t('tb_observer')}`.execute(db)
      await sql`
        create or replace function ${t('bump_observer_version')}() returns trigger
        language plpgsql set search_path = ${path}, pg_catalog as $fn$
        begin
          if TG_OP in ('DELETE', 'TRUNCATE') then
            update tb_observer_version set version = version + 1, full_since = version + 1;
          else
            update tb_observer_version set version = version + 1;
          end if;
          return null;
        end
        $fn$`.execute(db)
      await sql`
        create or replace function ${t('stamp_observer_version')}() returns trigger
        language plpgsql set search_path = ${path}, pg_catalog as $fn$
        begin
          select version into new.version from tb_observer_version;
          return new;
        end
        $fn$`.execute(db)
      await sql`create trigger bump_observer_version before insert or update or delete or truncate on ${t('tb_observer')}
        for each statement execute function ${t('bump_observer_version')}()`.execute(db)
      await sql`create trigger stamp_observer_version before insert or update on ${t('tb_observer')}
        for each row execute function ${t('stamp_observer_version')}()`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop trigger if exists stamp_observer_version on ${t('tb_observer')}`.execute(db)
      await sql`drop trigger if exists bump_observer_version on ${t('tb_observer')}`.execute(db)
      await sql`drop function if exists ${t('stamp_observer_version')}()`.execute(db)
      await sql`
        create or replace function ${t('bump_observer_version')}() returns trigger
        language plpgsql set search_path = ${path}, pg_catalog as $fn$
        begin
          update tb_observer_version set version = version + 1;
          return null;
        end
        $fn$`.execute(db)
      await sql`create trigger bump_observer_version after insert or update or delete on ${t('tb_observer')}
        for each statement execute function ${t('bump_observer_version')}()`.execute(db)
      await sql`drop index if exists ${t('tb_observer_row_version')}`.execute(db)
      await sql`alter table ${t('tb_observer')} drop column version`.execute(db)
      await sql`alter table ${t('tb_observer_version')} drop column full_since`.execute(db)
    }
  }
}
