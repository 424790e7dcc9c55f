// One HTTP attempt's trace: the `traceparent` (and `tracestate`) it sends and, when a tracer is
// registered, its CLIENT span with the stable HTTP semantic-convention attributes. Nothing that
// may be secret goes into a span: URLs lose their credentials and query values.
import { SpanKind, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api'
import { redactUrl } from '../net/redact-url.js'
import { formatTraceparent, newTraceparent } from './trace-context.js'
import { tracer, type AttemptTrace } from './tracer.js'

/** What the spans of requests to one URL say about it; worked out once per URL. */
export interface SpanTarget {
  /** `url.full`, redacted */
  url: string
  /** `url.full` of a URL whose path is itself a secret (a Slack webhook's) */
  secretPathUrl: string
  address: string
  port: number
}

export function spanTargetOf (url: URL): SpanTarget {
  return {
    url: redactUrl(url),
    secretPathUrl: redactUrl(url, true),
    // an IPv6 literal without its brackets, as the conventions want it
    address: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
  }
}

/**
 * Adds `traceparent` (a new span id: the CLIENT span's when a tracer is registered) and the
 * writer's `tracestate` to `headers`; returns the CLIENT span to end, if one was started.
 * `resendCount` is 0 on a delivery's first attempt; `secretPath` hides the URL's path in the span.
 */
export function traceRequest (
  trace: AttemptTrace, resendCount: number, secretPath: boolean, method: string, target: SpanTarget, headers: Record<string, string>
): Span | undefined {
  let span: Span | undefined
  if (trace.context === undefined) {
    headers.traceparent = trace.traceparent ?? newTraceparent(trace.traceId, trace.flags)
  } else {
    const attributes: Attributes = {
      'http.request.method': method,
      'url.full': secretPath ? target.secretPathUrl : target.url,
      'server.address': target.address,
      'server.port': target.port
    }
    if (resendCount > 0) attributes['http.request.resend_count'] = resendCount
    span = tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes }, trace.context)
    const own = span.spanContext()
    headers.traceparent = formatTraceparent(own.traceId, own.spanId, (own.traceFlags & 1) === 1 ? '01' : '00')
  }
  if (trace.tracestate !== undefined) headers.tracestate = trace.tracestate
  return span
}

/**
 * Ends a CLIENT span: the status code when an answer came; `error.type` (the status code from
 * 400 on, else why no answer came: TIMEOUT, NETWORK, SSRF_BLOCKED, CANCELLED...) and an error status.
 */
export function endRequestSpan (span: Span, statusCode: number | null, failure: string | undefined): void {
  let errorType: string | undefined
  if (statusCode !== null) {
    span.setAttribute('http.response.status_code', statusCode)
    if (statusCode >= 400) errorType = String(statusCode)
  } else {
    errorType = failure
  }
  if (errorType !== undefined) {
    span.setAttribute('error.type', errorType)
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}
