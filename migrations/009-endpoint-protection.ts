// Endpoint protection (SPEC 9.3): one row per endpoint (an action's destination origin) whose
// circuit is not plainly closed, shared by every instance; a change to it is announced on
// `<schema>_endpoints`. Retries remember their endpoint, so the deliveries waiting for a circuit
// are found when it closes or is disabled. An observer disabled by the runtime says why.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function endpointProtection (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create table ${t('tb_observer_endpoint')} (
        endpoint text primary key,
        state text not null default 'closed' check (state in ('closed', 'open', 'half_open', 'disabled')),
        opened_at timestamptz,
        next_probe_at timestamptz,
        cool_down_ms integer not null default 0,
        paused_until timestamptz,
        rate_tat timestamptz,
        updated_at timestamptz not null default now())`.execute(db)
      await sql`alter table ${t('tb_observer_retry')} add column endpoint text`.execute(db)
      await sql`create index tb_observer_retry_endpoint on ${t('tb_observer_retry')} (endpoint) where endpoint is not null`.execute(db)
      await sql`alter table ${t('tb_observer')} add column disabled_reason text`.execute(db)
      await sql`
        create or replace function ${t('notify_endpoint')}() returns trigger
        language plpgsql as $fn$
        begin
          perform pg_notify(TG_TABLE_SCHEMA || '_endpoints', '');
          return null;
        end
        $fn$`.execute(db)
      // per row, and only for the columns other instances act on: a rate-limit reservation (rate_tat) stays silent
      await sql`create trigger notify_endpoint after insert or update of state, next_probe_at, paused_until on ${t('tb_observer_endpoint')}
        for each row execute function ${t('notify_endpoint')}()`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop table if exists ${t('tb_observer_endpoint')}`.execute(db)
      await sql`drop function if exists ${t('notify_endpoint')}()`.execute(db)
      await sql`alter table ${t('tb_observer')} drop column if exists disabled_reason`.execute(db)
      await sql`drop index if exists ${t('tb_observer_retry_endpoint')}`.execute(db)
      await sql`alter table ${t('tb_observer_retry')} drop column if exists endpoint`.execute(db)
    }
  }
}
