// The trace of one attempt of one delivery. It continues the change's W3C trace context (stored by
// the capture trigger, or carried by a stored retry), or starts a fresh trace. With an SDK
// registered the attempt is a CONSUMER span: a child of the change's context and linked to it.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, createTraceState, trace, type Attributes, type Context, type Link, type Span, type SpanContext } from '@opentelemetry/api'
import type { ActionOutcome } from '../../actions/types.js'
import {
  formatTraceparent, isTraceId, newTraceparent, parseTraceparent, randomSpanId, sendableTracestate, type TraceParent
} from '../../tracing/trace-context.js'
import { tracer, tracingEnabled, type AttemptTrace } from '../../tracing/tracer.js'
import type { Delivery } from './delivery.js'

export interface DeliveryTrace extends AttemptTrace {
  /** the attempt's CONSUMER span, when an SDK is registered */
  readonly span: Span | undefined
  /**
   * Set when the event carried no trace and this attempt started one: the `traceparent` its
   * retries and dead-letter retries continue, so they stay in the same trace.
   */
  readonly started: string | undefined
}

class Trace implements DeliveryTrace {
  constructor (
    readonly traceId: string,
    readonly flags: string,
    readonly tracestate: string | undefined,
    readonly context: Context | undefined,
    readonly span: Span | undefined,
    readonly traceparent: string | undefined,
    readonly started: string | undefined
  ) {}
}

/** The change's context: its traceparent, else a plain trace id the writer set (any parent span will do). */
function parentOf (traceparent: string | null | undefined, traceId: string | null): TraceParent | undefined {
  return parseTraceparent(traceparent) ?? (isTraceId(traceId) ? { traceId, spanId: randomSpanId(), flags: '01' } : undefined)
}

const flagsOf = (context: SpanContext): string => (context.traceFlags & 1) === 1 ? '01' : '00'

export function startDeliveryTrace (delivery: Delivery): DeliveryTrace {
  const { event } = delivery
  const parent = parentOf(event.traceparent, event.trace_id)
  const tracestate = parent === undefined ? undefined : sendableTracestate(event.tracestate)
  if (!tracingEnabled()) {
    if (parent !== undefined) return new Trace(parent.traceId, parent.flags, tracestate, undefined, undefined, newTraceparent(parent.traceId, parent.flags), undefined)
    // a fresh trace: its retries continue from this attempt's request
    const traceparent = newTraceparent(null, '01')
    return new Trace(traceparent.slice(3, 35), '01', undefined, undefined, undefined, traceparent, traceparent)
  }
  let parentContext = ROOT_CONTEXT
  let links: Link[] | undefined
  if (parent !== undefined) {
    const remote: SpanContext = {
      traceId: parent.traceId,
      spanId: parent.spanId,
      traceFlags: Number.parseInt(parent.flags, 16),
      isRemote: true,
      ...(tracestate === undefined ? {} : { traceState: createTraceState(tracestate) })
    }
    parentContext = trace.setSpanContext(ROOT_CONTEXT, remote)
    links = [{ context: remote }]
  }
  const span = tracer.startSpan(`deliver ${delivery.observer.name}`, { kind: SpanKind.CONSUMER, links, attributes: attributesOf(delivery) }, parentContext)
  const own = span.spanContext()
  const flags = flagsOf(own)
  return new Trace(own.traceId, flags, tracestate, trace.setSpan(parentContext, span), span, undefined,
    parent === undefined ? formatTraceparent(own.traceId, own.spanId, flags) : undefined)
}

function attributesOf ({ event, observer, action, actionIndex, attempt }: Delivery): Attributes {
  const attributes: Attributes = {
    'messaging.operation.type': 'process',
    'messaging.message.id': event.event_id,
    'observers.observer.id': observer.id,
    'observers.observer.name': observer.name,
    'observers.event.type': event.event_type,
    'observers.entity.type': event.entity_type,
    'observers.entity.id': event.entity_id,
    'observers.action.index': actionIndex,
    'observers.action.type': action.type,
    'observers.attempt': attempt
  }
  if (event.change_log_id !== null) attributes['observers.change_log.id'] = event.change_log_id
  return attributes
}

/** Ends the CONSUMER span: `error.type` is the outcome's code (never its message, which may name a URL). */
export function endDeliveryTrace (deliveryTrace: DeliveryTrace, outcome: ActionOutcome): void {
  const { span } = deliveryTrace
  if (span === undefined) return
  if (!outcome.ok) {
    span.setAttribute('error.type', outcome.code)
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}
