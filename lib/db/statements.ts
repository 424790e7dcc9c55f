// Hot-path statements kept as SQL text, written once per schema and run with new values each time:
// building and compiling them with Kysely's query builder on every batch was a measurable part of
// the runtime's CPU (bench/README.md). Everything else uses the query builder.
//
// When the plugin's database has a pg.Pool behind it (every connection option but `db`), a
// statement run outside a transaction is a named prepared statement: PostgreSQL parses and plans
// it once per connection instead of on every batch. Inside a transaction, or with a caller's
// Kysely, it goes through Kysely unnamed.
import { hash } from 'node:crypto'
import { CompiledQuery, type Kysely, type QueryResult } from 'kysely'
import type pg from 'pg'

/** `"schema"."table"`, quoted the way PostgreSQL reads identifiers. */
export function qualified (schema: string, table: string): string {
  return `${quote(schema)}.${quote(table)}`
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`

// the pool behind a schema-bound Kysely, registered by openConnection
const pools = new WeakMap<Kysely<any>, pg.Pool>()

/** Statements run on `db` itself (not in a transaction of it) may be prepared on `pool`'s connections. */
export function preparedOn (db: Kysely<any>, pool: pg.Pool): void {
  pools.set(db, pool)
}

/** A statement whose text depends only on the schema; the text is made on first use. */
export function statement (text: (schema: string) => string): <R>(db: Kysely<any>, schema: string, values: readonly unknown[]) => Promise<QueryResult<R>> {
  const bySchema = new Map<string, { sql: string, name: string }>()
  return async <R>(db: Kysely<any>, schema: string, values: readonly unknown[]) => {
    let prepared = bySchema.get(schema)
    if (prepared === undefined) {
      const sql = text(schema)
      // the same text always gets the same name (pg refuses one name for two texts on a connection)
      prepared = { sql, name: 'fastify_observers_' + hash('sha256', sql, 'hex').slice(0, 24) }
      bySchema.set(schema, prepared)
    }
    const pool = pools.get(db)
    if (pool === undefined) return await db.executeQuery<R>(CompiledQuery.raw(prepared.sql, values as unknown[]))
    const result = await pool.query({ name: prepared.name, text: prepared.sql, values: values as unknown[] })
    return { rows: result.rows as R[], numAffectedRows: BigInt(result.rowCount ?? 0) }
  }
}
