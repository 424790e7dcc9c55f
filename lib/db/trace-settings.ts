// The writer's side of tracing: stamps a transaction with the active OpenTelemetry context, so the
// changes it writes (capture trigger or direct inserts) keep it and their deliveries continue it.
import { context as otelContext, isSpanContextValid, trace, type Context } from '@opentelemetry/api'
import { sql, type Kysely } from 'kysely'
import { formatTraceparent } from '../tracing/trace-context.js'

/** Anything with pg's `query(text, values)`: a `pg` Client or PoolClient. */
export interface QueryClient {
  query: (text: string, values: unknown[]) => Promise<unknown>
}

const SET = "select set_config('observers.traceparent', $1, true), set_config('observers.tracestate', $2, true)"

/**
 * Sets `observers.traceparent` (and `observers.tracestate`) for the rest of the current
 * transaction from `context` (the active one by default). Call it inside the transaction that
 * writes: outside one the setting ends with the statement. Returns the traceparent set, or null
 * when there is no valid span context (nothing is set then).
 */
export async function setTraceContext (client: QueryClient | Kysely<any>, context: Context = otelContext.active()): Promise<string | null> {
  const span = trace.getSpanContext(context)
  if (span === undefined || !isSpanContextValid(span)) return null
  const traceparent = formatTraceparent(span.traceId, span.spanId, (span.traceFlags & 1) === 1 ? '01' : '00')
  const tracestate = span.traceState?.serialize() ?? ''
  // duck-typed: the host's Kysely may be another copy of the package
  if ('executeQuery' in client) {
    await sql`select set_config('observers.traceparent', ${traceparent}, true), set_config('observers.tracestate', ${tracestate}, true)`.execute(client)
  } else {
    await client.query(SET, [traceparent, tracestate])
  }
  return traceparent
}
