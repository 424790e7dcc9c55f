// Per key, ordered observers get a row's changes in change-log id order (the order they were made),
// not in the (txid, id) order the reader reads in (lib/runtime/README.md, "Per-key order").
// - tb_entity_change_log_key_txid finds, for the keys of a batch, the committed rows of the same
//   key with a higher txid: the reader has not read them yet, and those with a lower id were made
//   first. The key is hashed: an application's write must never fail because its key is long.
// - A parked event can wait until the listener has read such a row (waits_for_*): its key is not
//   released before, so the earlier change is parked first and released first.
// - Parked events are released in change-log id order.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function changeOrder (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`create index tb_entity_change_log_key_txid on ${t('tb_entity_change_log')}
        (hashtextextended(object_type, hashtextextended(object_id, 0)), txid, pk_entity_change_log)`.execute(db)
      await sql`alter table ${t('tb_observer_parked')}
        add column waits_for_listener text,
        add column waits_for_txid xid8,
        add column waits_for_change_log_id bigint`.execute(db)
      await sql`create index tb_observer_parked_change_order on ${t('tb_observer_parked')} (observer_id, entity_type, entity_id, change_log_id, pk_observer_parked)`.execute(db)
      await sql`drop index ${t('tb_observer_parked_key')}`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`create index tb_observer_parked_key on ${t('tb_observer_parked')} (observer_id, entity_type, entity_id, pk_observer_parked)`.execute(db)
      await sql`drop index ${t('tb_observer_parked_change_order')}`.execute(db)
      await sql`alter table ${t('tb_observer_parked')}
        drop column waits_for_change_log_id, drop column waits_for_txid, drop column waits_for_listener`.execute(db)
      await sql`drop index ${t('tb_entity_change_log_key_txid')}`.execute(db)
    }
  }
}
