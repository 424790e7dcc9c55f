// The release round (lib/runtime/stored/parked-release.ts) looks only at held keys that may move on.
// `releasable` is set when what blocked the key may have ended: its retry or dead letter removed,
// or its observer's on_dead_letter, enabled or deleted_at changed; a new blocker clears it. The
// round still checks each candidate, so a flag set too eagerly costs a look, never a wrong release;
// a key stays flagged while events are parked behind it.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function releasableKeys (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      // true unless written with a blocker that is still pending (settlement.repo.ts): a key never waits unseen
      await sql`alter table ${t('tb_observer_key')} add column releasable boolean not null default true`.execute(db)
      await sql`create index tb_observer_key_releasable on ${t('tb_observer_key')} (pk_observer_key) where releasable`.execute(db)
      await sql`create index tb_observer_key_blocker on ${t('tb_observer_key')} (blocking_event_id)`.execute(db)
      // Removing a retry or a dead letter flags the keys it blocked; scheduling a retry of a key's
      // blocker, or dead-lettering it for an observer that blocks on dead letters, clears the flag
      // (a failed retry is removed and scheduled again in one transaction: the key stays unflagged).
      // Keys are locked in one order (pk) by every such statement: two never wait on each other.
      await sql`
        create or replace function ${t('flag_blocked_keys')}() returns trigger
        language plpgsql as $fn$
        begin
          -- most statements touch no key: a read-path commit inserts its (often no) retries through here
          if not exists (select 1 from changed) then
            return null;
          end if;
          execute format('update %I.tb_observer_key k set releasable = %L
             where k.pk_observer_key in (
               select k2.pk_observer_key from %I.tb_observer_key k2 join changed g
                   on k2.blocking_event_id = g.event_id and k2.observer_id = g.observer_id
                where k2.releasable <> %L
                  and (%L or exists (select 1 from %I.tb_observer o where o.id = k2.observer_id and o.on_dead_letter = ''block''))
                order by k2.pk_observer_key for update of k2)',
            TG_TABLE_SCHEMA, TG_OP = 'DELETE', TG_TABLE_SCHEMA, TG_OP = 'DELETE',
            TG_OP = 'DELETE' or TG_TABLE_NAME = 'tb_observer_retry', TG_TABLE_SCHEMA);
          return null;
        end
        $fn$`.execute(db)
      for (const table of ['tb_observer_retry', 'tb_observer_dead_letter']) {
        await sql`create trigger flag_resolved_keys after delete on ${t(table)} referencing old table as changed
          for each statement execute function ${t('flag_blocked_keys')}()`.execute(db)
        await sql`create trigger flag_blocked_keys after insert on ${t(table)} referencing new table as changed
          for each statement execute function ${t('flag_blocked_keys')}()`.execute(db)
      }
      await sql`
        create or replace function ${t('flag_observer_keys')}() returns trigger
        language plpgsql as $fn$
        begin
          execute format('update %I.tb_observer_key set releasable = true where observer_id = $1 and not releasable', TG_TABLE_SCHEMA) using new.id;
          return null;
        end
        $fn$`.execute(db)
      await sql`create trigger flag_observer_keys after update of on_dead_letter, enabled, deleted_at on ${t('tb_observer')}
        for each row when (old.on_dead_letter is distinct from new.on_dead_letter or old.enabled is distinct from new.enabled
                           or old.deleted_at is distinct from new.deleted_at)
        execute function ${t('flag_observer_keys')}()`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`drop trigger flag_observer_keys on ${t('tb_observer')}`.execute(db)
      await sql`drop function ${t('flag_observer_keys')}()`.execute(db)
      for (const table of ['tb_observer_retry', 'tb_observer_dead_letter']) {
        await sql`drop trigger flag_resolved_keys on ${t(table)}`.execute(db)
        await sql`drop trigger flag_blocked_keys on ${t(table)}`.execute(db)
      }
      await sql`drop function ${t('flag_blocked_keys')}()`.execute(db)
      await sql`drop index ${t('tb_observer_key_blocker')}`.execute(db)
      await sql`drop index ${t('tb_observer_key_releasable')}`.execute(db)
      await sql`alter table ${t('tb_observer_key')} drop column releasable`.execute(db)
    }
  }
}
