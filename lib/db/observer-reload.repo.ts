// What an instance reads to bring its observers up to date: the version, and the rows written
// since the version it holds (migration 011), or every live row for a full reload. Both in pages,
// so that no reload holds all the raw rows of 100 000 observers at once.
import { sql, type Kysely } from 'kysely'
import type { Observer } from '../model.js'
import { toObserver } from './observers.repo.js'
import type { Database } from './types.js'

export interface ObserversVersion {
  /** bumped by every statement that writes tb_observer */
  version: string
  /** the version of the last hard delete or truncate: older holders must reload everything */
  fullSince: string
}

export interface VersionedObserver { observer: Observer, version: number }

export async function readObserversVersions (db: Kysely<Database>): Promise<ObserversVersion> {
  const row = await db.selectFrom('tb_observer_version')
    .select([sql<string>`version::text`.as('version'), sql<string>`full_since::text`.as('full_since')])
    .executeTakeFirstOrThrow()
  return { version: row.version, fullSince: row.full_since }
}

/** Rows written after version `since`, live or not (a deleted or disabled one must leave the index). */
export async function loadObserversWrittenSince (db: Kysely<Database>, since: string, pageSize: number): Promise<VersionedObserver[]> {
  const out: VersionedObserver[] = []
  let after = { version: since, pk: '0' }
  for (;;) {
    const rows = await db.selectFrom('tb_observer').selectAll()
      .where(sql`(version, pk_observer)`, '>', sql`(${after.version}::bigint, ${after.pk}::bigint)`)
      .orderBy('version').orderBy('pk_observer')
      .limit(pageSize).execute()
    for (const row of rows) out.push({ observer: toObserver(row), version: Number(row.version) })
    if (rows.length < pageSize) return out
    const last = rows[rows.length - 1]
    after = { version: String(last.version), pk: String(last.pk_observer) }
  }
}

/**
 * Every live, enabled observer, in pages by primary key. `reuse` answers the object already
 * loaded for an (id, version) it still holds, which then replaces the fresh copy.
 */
export async function loadLiveObservers (db: Kysely<Database>, pageSize: number, reuse: (id: string, version: number) => Observer | undefined): Promise<VersionedObserver[]> {
  const out: VersionedObserver[] = []
  let after = '0'
  for (;;) {
    const rows = await db.selectFrom('tb_observer').selectAll()
      .where('deleted_at', 'is', null).where('enabled', '=', true)
      .where('pk_observer', '>', after)
      .orderBy('pk_observer').limit(pageSize).execute()
    for (const row of rows) {
      const version = Number(row.version)
      out.push({ observer: reuse(row.id, version) ?? toObserver(row), version })
    }
    if (rows.length < pageSize) return out
    after = String(rows[rows.length - 1].pk_observer)
  }
}
