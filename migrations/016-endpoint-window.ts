// Endpoint protection across instances (SPEC 9.3 as amended). The failure window is counted in
// PostgreSQL, per endpoint and time bucket, so N instances open a circuit at the same totals as
// one; each count carries the circuit's generation, which every close bumps, so counts taken
// before a close never reopen it. `rate_booked` is the end of the queue of deliveries sent to
// wait durably for a rate-limited endpoint: later ones queue behind it instead of taking its slots.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function endpointWindow (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer_endpoint')} add column generation bigint not null default 0,
        add column rate_booked timestamptz`.execute(db)
      await sql`create table ${t('tb_observer_endpoint_window')} (
        endpoint text not null,
        generation bigint not null,
        bucket bigint not null,
        attempts integer not null,
        failures integer not null,
        primary key (endpoint, generation, bucket))`.execute(db)
      // a close (generation) is news to every instance, like a state change
      await sql`drop trigger notify_endpoint on ${t('tb_observer_endpoint')}`.execute(db)
      await sql`create trigger notify_endpoint after insert or update of state, next_probe_at, paused_until, generation on ${t('tb_observer_endpoint')}
        for each row execute function ${t('notify_endpoint')}()`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop trigger notify_endpoint on ${t('tb_observer_endpoint')}`.execute(db)
      await sql`create trigger notify_endpoint after insert or update of state, next_probe_at, paused_until on ${t('tb_observer_endpoint')}
        for each row execute function ${t('notify_endpoint')}()`.execute(db)
      await sql`drop table if exists ${t('tb_observer_endpoint_window')}`.execute(db)
      await sql`alter table ${t('tb_observer_endpoint')} drop column if exists generation, drop column if exists rate_booked`.execute(db)
    }
  }
}
