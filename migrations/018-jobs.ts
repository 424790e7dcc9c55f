// Replay, redrive and backfill jobs (SPEC 9.4): one durable row per job, claimed by any instance
// with SKIP LOCKED under a lease (claimed_by, claimed_until) and resumed from `cursor` after a
// restart or a crash. `READ` (a backfilled row) joins the event types an observer may ask for.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function jobs (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create table ${t('tb_observer_job')} (
        pk_observer_job bigint generated always as identity primary key,
        id uuid not null unique default gen_random_uuid(),
        kind text not null check (kind in ('replay', 'backfill')),
        status text not null default 'queued' check (status in ('queued', 'running', 'paused', 'done', 'failed', 'cancelled')),
        observer_id uuid,
        tenant_id text,
        params jsonb not null,
        cursor jsonb,
        total bigint,
        done bigint not null default 0,
        failed bigint not null default 0,
        error text,
        claimed_by uuid,
        claimed_until timestamptz,
        created_at timestamptz not null default now(),
        started_at timestamptz,
        finished_at timestamptz,
        updated_at timestamptz not null default now())`.execute(db)
      // the claim's scan: only jobs that may run are in it
      await sql`create index tb_observer_job_runnable on ${t('tb_observer_job')} (pk_observer_job) where status in ('queued', 'running')`.execute(db)
      await sql`alter table ${t('tb_observer')} drop constraint if exists tb_observer_event_type_check`.execute(db)
      await sql`alter table ${t('tb_observer')} add constraint tb_observer_event_type_check
        check (event_type in ('INSERT', 'UPDATE', 'DELETE', 'CUSTOM', 'READ'))`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer')} drop constraint if exists tb_observer_event_type_check`.execute(db)
      await sql`update ${t('tb_observer')} set event_type = null where event_type = 'READ'`.execute(db)
      await sql`alter table ${t('tb_observer')} add constraint tb_observer_event_type_check
        check (event_type in ('INSERT', 'UPDATE', 'DELETE', 'CUSTOM'))`.execute(db)
      await sql`drop table if exists ${t('tb_observer_job')}`.execute(db)
    }
  }
}
