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
  let after: { version: string, pk: string } | undefined
  for (;;) {
    // rows at version `since` itself are loaded already: the first page starts strictly above it
    const rows = await db.selectFrom('tb_observer').selectAll()
      .where(after === undefined
        ? sql<boolean>`version > ${since}::bigint`
        : sql<boolean>`(version, pk_observer) > (${after.version}::bigint, ${after.pk}::bigint)`)
      .orderBy('version').orderBy('pk_observer')
      .limit(pageSize).execute()
    for (const row of rows) out.push({ observer: toObserver(row), version: Number(row.version) })
    if (rows.length < pageSize) return out
    const last = rows[rows.length - 1]
    after = { version: String(last.version), pk: String(last.pk_observer) }
  }
}

/** The id and version of every live, enabled observer, in pages by primary key. */
export async function loadLiveVersions (db: Kysely<Database>, pageSize: number): Promise<Array<{ id: string, version: number }>> {
  const out: Array<{ id: string, version: number }> = []
  let after = '0'
  for (;;) {
    const rows = await db.selectFrom('tb_observer').select(['pk_observer', 'id', sql<string>`version::text`.as('version')])
      .where('deleted_at', 'is', null).where('enabled', '=', true)
      .where('pk_observer', '>', after)
      .orderBy('pk_observer').limit(pageSize).execute()
    for (const row of rows) out.push({ id: row.id, version: Number(row.version) })
    if (rows.length < pageSize) return out
    after = String(rows[rows.length - 1].pk_observer)
  }
}

/** Live, enabled observers: those of `ids` (in chunks), or every one when `ids` is undefined (in pages). */
export async function loadLiveObservers (db: Kysely<Database>, pageSize: number, ids?: readonly string[]): Promise<VersionedObserver[]> {
  const out: VersionedObserver[] = []
  let after = '0'
  for (let chunk = 0; ; chunk++) {
    let q = db.selectFrom('tb_observer').selectAll().where('deleted_at', 'is', null).where('enabled', '=', true)
    if (ids !== undefined) {
      const some = ids.slice(chunk * pageSize, (chunk + 1) * pageSize)
      if (some.length === 0) return out
      q = q.where('id', '=', sql<string>`any(${some}::uuid[])`)
    } else {
      q = q.where('pk_observer', '>', after).orderBy('pk_observer').limit(pageSize)
    }
    const rows = await q.execute()
    for (const row of rows) out.push({ observer: toObserver(row), version: Number(row.version) })
    if (ids === undefined && rows.length < pageSize) return out
    if (rows.length > 0) after = String(rows[rows.length - 1].pk_observer)
  }
}
