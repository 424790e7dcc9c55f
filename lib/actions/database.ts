// `database`: call a SQL function with the event, `select fn(event::jsonb, params::jsonb)`, through
// the plugin's Kysely. The name is validated and then quoted as an identifier, never spliced in.
import { sql } from 'kysely'
import { Type } from 'typebox'
import type { Static } from 'typebox'
import type { EventEnvelope } from '../model.js'
import type { ActionContext, ActionDefinition, ActionOutcome, RenderedRequest } from './types.js'
import { explainPattern } from '../schema-errors.js'
import { TimeoutMsSchema, boundedText, deadlineFailure, withDeadline } from './common.js'

/**
 * `name` or `schema.name`. Each part is quoted as written, so it matches case-sensitively
 * (`notify_order` finds the usual lower-case function; `Notify` needs a function created as "Notify").
 */
export const FUNCTION_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,62}(\\.[A-Za-z_][A-Za-z0-9_]{0,62})?$'

export const DatabaseConfigSchema = Type.Object({
  type: Type.Literal('database'),
  function_name: Type.String({
    pattern: explainPattern(FUNCTION_NAME_PATTERN, 'must be a function name or schema.function_name (letters, digits and _, at most 63 each)')
  }),
  /** Second argument of the function; `{}` when not set. */
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  timeout_ms: Type.Optional(TimeoutMsSchema)
}, { additionalProperties: false })

export type DatabaseConfig = Static<typeof DatabaseConfigSchema>

// The function or its schema does not exist: no retry will make it appear by itself.
const PERMANENT_SQLSTATES = new Set(['42883', '3F000'])
const QUERY_CANCELED = '57014'

export function classifyDatabaseError (err: unknown): ActionOutcome {
  const e = err as { code?: unknown, message?: string }
  const message = e?.message ?? String(err)
  // A five-character code is a SQLSTATE; anything else is the connection (ECONNREFUSED...).
  if (typeof e?.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code)) return { ok: false, kind: 'transient', code: 'NETWORK', message }
  if (e.code === QUERY_CANCELED) return { ok: false, kind: 'transient', code: 'TIMEOUT', message, timedOut: true }
  const code = `SQL_${e.code}`
  return PERMANENT_SQLSTATES.has(e.code)
    ? { ok: false, kind: 'permanent', code, message }
    : { ok: false, kind: 'transient', code, message }
}

function renderDatabase (event: EventEnvelope, config: DatabaseConfig, _ctx: Omit<ActionContext, 'signal' | 'attempt'>): RenderedRequest {
  return {
    method: 'SQL',
    url: null,
    headers: {},
    body: { statement: `select ${config.function_name}($1::jsonb, $2::jsonb)`, parameters: [event, config.params ?? {}] }
  }
}

export const databaseAction: ActionDefinition<DatabaseConfig> = {
  type: 'database',
  schema: DatabaseConfigSchema,
  async run (event, config, ctx) {
    const timeoutMs = config.timeout_ms ?? ctx.timeoutMs
    const fn = sql.id(...config.function_name.split('.'))
    const work = ctx.services.db.transaction().execute(async (trx) => {
      // statement_timeout stops the function inside Postgres; SET LOCAL ends with the transaction,
      // so the pooled connection goes back unchanged. set_config takes the value as a parameter.
      await sql`select set_config('statement_timeout', ${String(timeoutMs)}, true)`.execute(trx)
      const { rows } = await sql<{ result: unknown }>`select ${fn}(${JSON.stringify(event)}::jsonb, ${JSON.stringify(config.params ?? {})}::jsonb) as result`.execute(trx)
      return rows[0]?.result
    })
    try {
      // The deadline also covers waiting for a pooled connection, which statement_timeout does not.
      const result = await withDeadline(work, timeoutMs + 1000, ctx.signal)
      return { ok: true, response: boundedText(JSON.stringify(result ?? null)) }
    } catch (err) {
      return deadlineFailure(err) ?? classifyDatabaseError(err)
    }
  },
  render: renderDatabase,
  redact: (config) => ({ ...config })
}
