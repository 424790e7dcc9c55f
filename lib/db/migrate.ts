// Runs the plugin's migrations. Kysely's Postgres adapter holds a session advisory lock while it
// migrates, so instances starting together take turns and the later ones find nothing to do.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Kysely } from 'kysely'
import { Migrator, type MigrationResultSet } from 'kysely/migration'
import { migrations } from '../../migrations/index.js'
import { MigrationFailedError } from '../errors.js'

// Before taking its lock, Kysely's migrator looks for its own tables by introspecting every table
// of the database; a table dropped by someone else during that scan makes it fail with "does not
// exist" (a table, a column or a whole schema). Nothing has run then, so trying again is safe.
const INTROSPECTION_RACE = new Set(['42P01', '42703', '3F000'])
const ATTEMPTS = 5

export async function migrateToLatest (db: Kysely<any>, schema: string): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(schema) },
    migrationTableSchema: schema,
    migrationTableName: 'kysely_migration',
    migrationLockTableName: 'kysely_migration_lock'
  })
  for (let attempt = 1; ; attempt++) {
    const result = await migrator.migrateToLatest()
    if (result.error === undefined) return result
    const code = (result.error as { code?: string }).code
    const nothingRan = result.results === undefined || result.results.length === 0
    if (attempt < ATTEMPTS && nothingRan && code !== undefined && INTROSPECTION_RACE.has(code)) {
      await sleep(20 * attempt)
      continue
    }
    const failed = result.results?.find((r) => r.status === 'Error')
    const cause = result.error instanceof Error ? result.error.message : String(result.error)
    throw new MigrationFailedError(failed?.migrationName ?? '', schema, cause, { cause: result.error })
  }
}
