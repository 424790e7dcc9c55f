// The plugin's one OpenTelemetry tracer, and what an attempt's actions know of its trace. Spans go
// through @opentelemetry/api only: the host registers an SDK, or every span is a no-op.
import { ProxyTracerProvider, trace, type Context } from '@opentelemetry/api'

export const tracer = trace.getTracer('fastify-observers')

// The provider the API falls back to when no SDK is registered.
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate()

/**
 * Whether a host registered an SDK. Without one the runtime makes no span nor context at all:
 * the API's no-op spans still cost about a microsecond per delivery (bench/README.md).
 */
export function tracingEnabled (): boolean {
  const provider = trace.getTracerProvider()
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER
}

/** The trace one attempt of one delivery continues; every HTTP request it makes carries it. */
export interface AttemptTrace {
  /** the trace id of every `traceparent` sent */
  readonly traceId: string
  /** the trace flags sent when no span of ours decides them (`01`: sampled) */
  readonly flags: string
  /** the writer's `tracestate`, sent as it came */
  readonly tracestate: string | undefined
  /** the OpenTelemetry context holding the attempt's CONSUMER span; undefined without an SDK */
  readonly context: Context | undefined
  /** without an SDK: the attempt's `traceparent`, its new span id made with the trace (one string) */
  readonly traceparent?: string
}
