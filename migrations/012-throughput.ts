// The console's overview (SPEC 9.6): each instance's deliveries per second and lag samples of
// the last minutes, written a few seconds at a time from its in-memory ring, so any instance can
// answer for all of them. Rows older than the window are removed by the same writes.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function throughput (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create table ${t('tb_observer_throughput')} (
        instance_id text not null,
        second bigint not null,
        delivered integer not null default 0,
        failed integer not null default 0,
        lag_events bigint,
        lag_seconds double precision,
        primary key (instance_id, second))`.execute(db)
      await sql`create index tb_observer_throughput_second on ${t('tb_observer_throughput')} (second)`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop table ${t('tb_observer_throughput')}`.execute(db)
    }
  }
}
