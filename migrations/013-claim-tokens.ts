// Each claim on a stored delivery carries a token of its own: the commit that ends a claim ends it
// only if the token is still there, so a worker whose claim ran out (and was taken by another)
// commits nothing for it (issue 24 item 6).
import { sql, type Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'

export function claimTokens (schema: string): Migration {
  const t = (name: string) => sql.id(schema, name)
  return {
    async up (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer_retry')} add column claimed_by uuid`.execute(db)
      await sql`alter table ${t('tb_observer_dead_letter')} add column retry_claimed_by uuid`.execute(db)
    },
    async down (db: Kysely<any>) {
      await sql`alter table ${t('tb_observer_retry')} drop column claimed_by`.execute(db)
      await sql`alter table ${t('tb_observer_dead_letter')} drop column retry_claimed_by`.execute(db)
    }
  }
}
