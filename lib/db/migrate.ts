// Runs the plugin's migrations. Kysely's Postgres adapter holds a session advisory lock while it
// migrates, so instances starting together take turns and the later ones find nothing to do.
import type { Kysely } from 'kysely'
import { Migrator, type MigrationResultSet } from 'kysely/migration'
import { migrations } from '../../migrations/index.js'

export async function migrateToLatest (db: Kysely<any>, schema: string): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(schema) },
    migrationTableSchema: schema,
    migrationTableName: 'kysely_migration',
    migrationLockTableName: 'kysely_migration_lock'
  })
  const result = await migrator.migrateToLatest()
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')
    const cause = result.error instanceof Error ? result.error.message : String(result.error)
    throw new Error(`fastify-observers: migration ${failed?.migrationName ?? ''} failed in schema "${schema}": ${cause}`, { cause: result.error })
  }
  return result
}
