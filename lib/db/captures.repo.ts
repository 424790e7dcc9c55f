// Attaching the capture trigger to application tables. Names are checked against the catalog and
// quoted as identifiers; nothing from a request is ever spliced into SQL text.
import { sql, type Kysely } from 'kysely'
import type { Database } from './types.js'

export const CAPTURE_TRIGGER = 'observers_capture'

export interface Capture {
  schema: string
  table: string
  entity_type: string
  id_column: string
}

export type AttachResult = { ok: true, capture: Capture } | { ok: false, reason: 'no_table' | 'no_column' | 'attached', message: string }

/** Every table whose capture trigger calls this plugin's capture function. */
export async function listCaptures (db: Kysely<Database>, schema: string): Promise<Capture[]> {
  const { rows } = await sql<{ schema: string, table: string, args: string }>`
    select n.nspname as schema, c.relname as table, encode(t.tgargs, 'escape') as args
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
     where t.tgname = ${CAPTURE_TRIGGER}
       and t.tgfoid = (select p.oid from pg_proc p join pg_namespace pn on pn.oid = p.pronamespace
                        where p.proname = 'capture_change' and pn.nspname = ${schema})
     order by 1, 2`.execute(db)
  return rows.map((r) => {
    // tgargs holds the trigger's arguments, each ending in a NUL byte (shown as \000)
    const [entity, idColumn] = r.args.split('\\000')
    return { schema: r.schema, table: r.table, entity_type: entity, id_column: idColumn }
  })
}

async function primaryKeyColumn (db: Kysely<Database>, tableSchema: string, table: string): Promise<string | undefined> {
  const { rows } = await sql<{ column: string }>`
    select a.attname as column
      from pg_index i
      join pg_class c on c.oid = i.indrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum = any(i.indkey)
     where i.indisprimary and n.nspname = ${tableSchema} and c.relname = ${table}`.execute(db)
  return rows.length === 1 ? rows[0].column : undefined
}

export async function attachCapture (
  db: Kysely<Database>, schema: string,
  input: { schema?: string, table: string, entity_type?: string, id_column?: string }
): Promise<AttachResult> {
  const tableSchema = input.schema ?? 'public'
  const { rows: tables } = await sql<{ oid: number }>`
    select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = ${tableSchema} and c.relname = ${input.table} and c.relkind in ('r', 'p')`.execute(db)
  if (tables.length === 0) return { ok: false, reason: 'no_table', message: `table ${tableSchema}.${input.table} does not exist` }
  const idColumn = input.id_column ?? await primaryKeyColumn(db, tableSchema, input.table) ?? 'id'
  const { rows: columns } = await sql`
    select 1 from pg_attribute where attrelid = ${tables[0].oid} and attname = ${idColumn} and attnum > 0 and not attisdropped`.execute(db)
  if (columns.length === 0) return { ok: false, reason: 'no_column', message: `table ${tableSchema}.${input.table} has no column ${idColumn}` }
  const capture = { schema: tableSchema, table: input.table, entity_type: input.entity_type ?? input.table, id_column: idColumn }
  const exists = (await listCaptures(db, schema)).some((c) => c.schema === tableSchema && c.table === input.table)
  if (exists) return { ok: false, reason: 'attached', message: `capture is already attached to ${tableSchema}.${input.table}` }
  await sql`create trigger ${sql.id(CAPTURE_TRIGGER)}
    after insert or update or delete on ${sql.id(tableSchema, input.table)}
    for each row execute function ${sql.id(schema, 'capture_change')}(${sql.lit(capture.entity_type)}, ${sql.lit(idColumn)})`.execute(db)
  return { ok: true, capture }
}

/** Removes the capture trigger; false when it was not attached. */
export async function detachCapture (db: Kysely<Database>, schema: string, tableSchema: string, table: string): Promise<boolean> {
  const attached = (await listCaptures(db, schema)).some((c) => c.schema === tableSchema && c.table === table)
  if (!attached) return false
  await sql`drop trigger if exists ${sql.id(CAPTURE_TRIGGER)} on ${sql.id(tableSchema, table)}`.execute(db)
  return true
}
