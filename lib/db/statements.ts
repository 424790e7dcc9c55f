// Hot-path statements kept as SQL text, written once per schema and run with new values each time:
// building and compiling them with Kysely's query builder cost about 1 ms per batch (some 5 % of
// the runtime's CPU in the backlog benchmark). Everything else uses the query builder.
import { CompiledQuery, type Kysely, type QueryResult } from 'kysely'

/** `"schema"."table"`, quoted the way PostgreSQL reads identifiers. */
export function qualified (schema: string, table: string): string {
  return `${quote(schema)}.${quote(table)}`
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** A statement whose text depends only on the schema; the text is made on first use. */
export function statement (text: (schema: string) => string): <R>(db: Kysely<any>, schema: string, values: readonly unknown[]) => Promise<QueryResult<R>> {
  const bySchema = new Map<string, string>()
  return async <R>(db: Kysely<any>, schema: string, values: readonly unknown[]) => {
    let sql = bySchema.get(schema)
    if (sql === undefined) {
      sql = text(schema)
      bySchema.set(schema, sql)
    }
    return await db.executeQuery<R>(CompiledQuery.raw(sql, values as unknown[]))
  }
}
