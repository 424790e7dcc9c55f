// One publish's trace: the `traceparent` (and `tracestate`) the message carries and, when a tracer is
// registered, its PRODUCER span with the messaging semantic-convention attributes.
import { SpanKind, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api'
import { formatTraceparent, newTraceparent } from './trace-context.js'
import { tracer, type AttemptTrace } from './tracer.js'

export interface PublishTarget {
  /** `messaging.system`, e.g. `nats` */
  system: string
  /** the subject (or topic) published to */
  destination: string
  /** the message's id as the broker deduplicates it */
  messageId: string
  /** the first server of the set */
  address: string
  port: number
  bodySize: number
}

/**
 * Adds `traceparent` (a new span id: the PRODUCER span's when a tracer is registered) and the
 * writer's `tracestate` to `headers`; returns the span to end, if one was started.
 */
export function tracePublish (trace: AttemptTrace, resendCount: number, target: PublishTarget, headers: Record<string, string>): Span | undefined {
  let span: Span | undefined
  if (trace.context === undefined) {
    headers.traceparent = trace.traceparent ?? newTraceparent(trace.traceId, trace.flags)
  } else {
    const attributes: Attributes = {
      'messaging.system': target.system,
      'messaging.destination.name': target.destination,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.message.id': target.messageId,
      'messaging.message.body.size': target.bodySize,
      'server.address': target.address,
      'server.port': target.port
    }
    if (resendCount > 0) attributes['observers.resend_count'] = resendCount
    span = tracer.startSpan(`publish ${target.destination}`, { kind: SpanKind.PRODUCER, attributes }, trace.context)
    const own = span.spanContext()
    headers.traceparent = formatTraceparent(own.traceId, own.spanId, (own.traceFlags & 1) === 1 ? '01' : '00')
  }
  if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate
  return span
}

/** Ends a PRODUCER span; a failure sets `error.type` (its code) and an error status. */
export function endPublishSpan (span: Span, failure: string | undefined): void {
  if (failure !== undefined) {
    span.setAttribute('error.type', failure)
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}
