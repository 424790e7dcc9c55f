// Ordered delivery per entity (SPEC 9.1). An observer with `ordering = 'entity'` gets the events of
// one (entity_type, entity_id) one at a time, in commit order. A key whose delivery failed is held
// (tb_observer_key, with the event that blocks it) and its later events wait in tb_observer_parked,
// in the order they were parked, until the blocking delivery resolves. Resolving (a retry or dead
// letter removed) is announced on `<schema>_keys`, so the reader releases what waits at once.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function orderedDelivery (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer')}
        add column ordering text not null default 'none' check (ordering in ('none', 'entity')),
        add column on_dead_letter text not null default 'skip' check (on_dead_letter in ('skip', 'block'))`.execute(db)
      await sql`create table ${t('tb_observer_key')} (
        pk_observer_key bigint generated always as identity primary key,
        observer_id uuid not null,
        entity_type text not null,
        entity_id text not null,
        blocking_event_id uuid,
        blocking_change_log_id bigint,
        blocked_since timestamptz not null default now(),
        unique (observer_id, entity_type, entity_id))`.execute(db)
      await sql`create table ${t('tb_observer_parked')} (
        pk_observer_parked bigint generated always as identity primary key,
        observer_id uuid not null,
        entity_type text not null,
        entity_id text not null,
        event_id uuid not null,
        change_log_id bigint,
        event jsonb not null,
        parked_at timestamptz not null default now(),
        unique (observer_id, event_id))`.execute(db)
      await sql`create index tb_observer_parked_key on ${t('tb_observer_parked')} (observer_id, entity_type, entity_id, pk_observer_parked)`.execute(db)
      await sql`
        create or replace function ${t('notify_resolved')}() returns trigger
        language plpgsql as $fn$
        begin
          perform pg_notify(TG_TABLE_SCHEMA || '_keys', '');
          return null;
        end
        $fn$`.execute(db)
      for (const table of ['tb_observer_retry', 'tb_observer_dead_letter']) {
        await sql`create trigger notify_resolved after delete on ${t(table)}
          for each statement execute function ${t('notify_resolved')}()`.execute(db)
      }
    },
    async down (db: Kysely<any>) {
      for (const table of ['tb_observer_retry', 'tb_observer_dead_letter']) {
        await sql`drop trigger if exists notify_resolved on ${t(table)}`.execute(db)
      }
      await sql`drop function if exists ${t('notify_resolved')}()`.execute(db)
      await sql`drop table if exists ${t('tb_observer_parked')}`.execute(db)
      await sql`drop table if exists ${t('tb_observer_key')}`.execute(db)
      await sql`alter table ${t('tb_observer')} drop column on_dead_letter, drop column ordering`.execute(db)
    }
  }
}
