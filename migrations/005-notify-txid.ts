// The change-log NOTIFY names the committing transaction. The reader compares it with the horizon
// of its next read: a notified transaction at or above the horizon means committed rows wait for
// an open transaction to end, so the reader comes back soon instead of at the next NOTIFY. It costs
// the database nothing: the payload is the transaction's id, the same for every statement of it,
// so PostgreSQL still folds a transaction's notifications into one.
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function notifyTxid (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  const notifyWith = async (db: Kysely<any>, payload: string): Promise<void> => {
    await sql`
      create or replace function ${t('notify_change')}() returns trigger
      language plpgsql as $fn$
      begin
        perform pg_notify(TG_TABLE_SCHEMA || '_' || TG_ARGV[0], ${sql.raw(payload)});
        return null;
      end
      $fn$`.execute(db)
  }
  return {
    async up (db: Kysely<any>) {
      await notifyWith(db, 'coalesce(pg_current_xact_id_if_assigned()::text, \'\')')
    },
    async down (db: Kysely<any>) {
      await notifyWith(db, '\'\'')
    }
  }
}
