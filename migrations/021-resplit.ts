// Re-splitting a listener's stream (SPEC 9.2, PUT /observers/listeners/:listener_id): a requested
// count and its barrier, the id of the transaction that recorded the request. Every partition reads
// the rows of transactions below the barrier, and no further, then stops at (barrier, 0); once all
// have, the count switches and the new partitions start there (lib/db/resplit.repo.ts).
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function resplit (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer_listener')}
        add column resplit_to integer check (resplit_to between 1 and 256),
        add column barrier_txid xid8,
        add column resplit_requested_at timestamptz,
        add constraint tb_observer_listener_resplit check ((resplit_to is null) = (barrier_txid is null))`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer_listener')} drop constraint tb_observer_listener_resplit,
        drop column resplit_requested_at, drop column barrier_txid, drop column resplit_to`.execute(db)
    }
  }
}
