// Scale-out (SPEC 9.2): a listener's stream split into partitions, each read by one instance.
// - tb_observer_instance: every running instance, with a heartbeat (last_seen). An instance silent
//   for longer than the lease is gone, and its partitions may be taken.
// - tb_observer_listener: the partition count each listener was started with (a different count at
//   start is refused: the stream would be split differently from its checkpoints).
// - tb_observer_partition: who holds each partition and under which term; the term grows with each
//   take-over. The holder also holds the partition's advisory lock, whose session is recorded: a
//   commit checks that lock, and a stale holder's session is ended before its partition is taken.
// Each partition's checkpoint is the row of `<listener>#<partition>` in observer_checkpoints. The
// index that reads one partition in commit order depends on the count, so the runtime creates it.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function partitions (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create table ${t('tb_observer_instance')} (
        instance_id text primary key,
        host text not null,
        pid integer not null,
        started_at timestamptz not null default now(),
        last_seen timestamptz not null default now())`.execute(db)
      await sql`create table ${t('tb_observer_listener')} (
        listener_id text primary key,
        partitions integer not null check (partitions between 1 and 256))`.execute(db)
      await sql`create table ${t('tb_observer_partition')} (
        listener_id text not null,
        partition integer not null,
        holder text,
        term bigint not null default 0,
        session_pid integer,
        taken_at timestamptz,
        primary key (listener_id, partition))`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop table ${t('tb_observer_partition')}`.execute(db)
      await sql`drop table ${t('tb_observer_listener')}`.execute(db)
      await sql`drop table ${t('tb_observer_instance')}`.execute(db)
    }
  }
}
