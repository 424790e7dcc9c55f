// The one HTTP client of the webhook and Slack actions: a keep-alive undici Agent whose sockets only
// ever connect to addresses the SSRF guard checked. undici's dispatcher API rather than global
// fetch, for throughput (bench/README.md). Every request carries its attempt's traceparent and,
// with a tracer registered, is a CLIENT span (../tracing/http-span.ts).
import type { Span } from '@opentelemetry/api'
import { Agent, type Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'node:http'
import type { Cancellation } from './cancellation.js'
import type { ActionOutcome } from './types.js'
import { checkHostLiteral, createGuardedLookup } from '../net/address-guard.js'
import type { Resolver } from '../net/address-guard.js'
import { STORED_RESULT_BYTES } from './common.js'
import { classifyError, classifyStatus } from './http-outcome.js'
import { endRequestSpan, spanTargetOf, traceRequest, type SpanTarget } from '../tracing/http-span.js'
import type { AttemptTrace } from '../tracing/tracer.js'

// Past this, draining costs more than a new connection: the socket is destroyed instead.
const DRAIN_LIMIT = 1024 * 1024

export interface HttpClientOptions {
  /** `network.allowPrivate`: no address checks at all. */
  allowPrivate: boolean
  /** DNS resolution for the guard; default `dns.promises.lookup` with `all: true`. */
  resolve?: Resolver
  /** Most sockets per origin (default 128). */
  connections?: number
  /** TCP/TLS connect timeout in ms (default 10000); each request's own deadline may end it sooner. */
  connectTimeoutMs?: number
}

export interface SendOptions {
  method: string
  headers: Record<string, string>
  body?: string
  /** Deadline for the whole request, connecting and reading the body included (not used with `cancellation`). */
  timeoutMs: number
  /** Aborts the request; a `TimeoutError` reason is reported as TIMEOUT, any other as CANCELLED. */
  signal?: AbortSignal
  /**
   * The runtime's cheaper alternative to `signal`: the attempt's own cancellation, whose owner also
   * enforces the deadline (it cancels with a `TimeoutError`), so no timer is set here.
   */
  cancellation?: Cancellation
  /** the attempt's trace: `traceparent` (and `tracestate`) are added to `headers`, and a CLIENT span made when a tracer is registered */
  trace?: AttemptTrace
  /** for the span: 0 on a delivery's first attempt, 1 on its first retry... */
  resendCount?: number
  /** for the span: the URL's path is a secret (a Slack webhook's) */
  secretPath?: boolean
}

export interface HttpResult {
  outcome: ActionOutcome
  /** null when no response arrived. */
  statusCode: number | null
  headers: IncomingHttpHeaders
  /** At most STORED_RESULT_BYTES of the body, as UTF-8. */
  body: string
}

export interface HttpClient {
  /** Sends one request and classifies the answer; never throws and never follows redirects. */
  send: (url: string, options: SendOptions) => Promise<HttpResult>
  close: () => Promise<void>
}

type Target = { origin: string, path: string, span: SpanTarget } | { problem: ActionOutcome }

// Webhook URLs repeat: each is parsed and checked once (a bounded cache; cleared when full).
const TARGET_CACHE_SIZE = 1024

function parseTarget (url: string, allowPrivate: boolean): Target {
  let target: URL
  try {
    target = new URL(url)
  } catch {
    return { problem: { ok: false, kind: 'permanent', code: 'CONFIG', message: `not a valid URL: ${url}` } }
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return { problem: { ok: false, kind: 'permanent', code: 'CONFIG', message: `URL must use http or https: ${url}` } }
  }
  if (!allowPrivate) {
    const reason = checkHostLiteral(target.hostname)
    if (reason !== null) return { problem: { ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message: `refused: ${reason}` } }
  }
  return { origin: target.origin, path: target.pathname + target.search, span: spanTargetOf(target) }
}

function failed (outcome: ActionOutcome): HttpResult {
  return { outcome, statusCode: null, headers: {}, body: '' }
}

/**
 * One request through undici's dispatch API: the response body is read straight from the socket's
 * chunks, without the stream, the AbortSignal and the promise layers of `request()` (about a fifth
 * of the runtime's CPU per webhook delivery before). Settles exactly once.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private aborted: Error | undefined
  private statusCode = 0
  private headers: IncomingHttpHeaders = {}
  private readonly chunks: Buffer[] = []
  private kept = 0
  private received = 0
  private settled = false
  timer: NodeJS.Timeout | undefined
  signal: AbortSignal | undefined
  cancellation: Cancellation | undefined
  span: Span | undefined

  constructor (private readonly resolve: (result: HttpResult) => void) {}

  get ended (): boolean { return this.settled }

  /** Ends the request now (timeout, caller's signal or cancellation); undici is told as soon as it started it. */
  readonly abort = (reason: Error): void => {
    if (this.settled) return
    this.aborted = reason
    this.settle(failed(classifyError(reason, reason)))
    this.controller?.abort(reason)
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.controller = controller
    if (this.aborted !== undefined) controller.abort(this.aborted)
  }

  onResponseStart (_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.statusCode = statusCode
    this.headers = headers
  }

  // The first bytes are kept for the log; the rest is read and dropped, so the socket stays
  // reusable. Past DRAIN_LIMIT the socket is closed instead (aborting a response destroys it).
  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.received += chunk.length
    if (this.kept < STORED_RESULT_BYTES) {
      const part = chunk.subarray(0, STORED_RESULT_BYTES - this.kept)
      this.chunks.push(part)
      this.kept += part.length
    }
    if (this.received > DRAIN_LIMIT) {
      this.answered()
      controller.abort(new Error('response body too large to drain'))
    }
  }

  onResponseEnd (): void {
    this.answered()
  }

  onResponseError (_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.settle(failed(classifyError(err, this.aborted)))
  }

  private answered (): void {
    const chunks = this.chunks
    const text = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')
    this.settle({ outcome: classifyStatus(this.statusCode, this.headers, text), statusCode: this.statusCode, headers: this.headers, body: text })
  }

  private settle (result: HttpResult): void {
    if (this.settled) return
    this.settled = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.signal?.removeEventListener('abort', this.onSignal)
    this.cancellation?.listen(undefined)
    if (this.span !== undefined) endRequestSpan(this.span, result.statusCode, result.outcome.ok ? undefined : result.outcome.code)
    this.resolve(result)
  }

  readonly onSignal = (): void => { this.abort(abortReason(this.signal?.reason)) }
}

const abortReason = (reason: unknown): Error => reason instanceof Error ? reason : new Error(String(reason))

function expire (exchange: Exchange, timeoutMs: number): void {
  exchange.abort(new DOMException(`request timed out after ${timeoutMs} ms`, 'TimeoutError'))
}

export function createHttpClient (options: HttpClientOptions): HttpClient {
  const agent = new Agent({
    keepAliveTimeout: 4000,
    pipelining: 1,
    connections: options.connections ?? 128,
    connect: {
      timeout: options.connectTimeoutMs ?? 10_000,
      // Literal IP hosts never reach lookup (net skips DNS for them): send() checks those itself.
      ...(options.allowPrivate ? {} : { lookup: createGuardedLookup(options.resolve) })
    }
  })
  const targets = new Map<string, Target>()

  function targetOf (url: string): Target {
    let target = targets.get(url)
    if (target === undefined) {
      if (targets.size >= TARGET_CACHE_SIZE) targets.clear()
      target = parseTarget(url, options.allowPrivate)
      targets.set(url, target)
    }
    return target
  }

  // not async: one promise per request, not three (this runs once per delivery)
  function send (url: string, { method, headers, body, timeoutMs, signal, cancellation, trace, resendCount, secretPath }: SendOptions): Promise<HttpResult> {
    const target = targetOf(url)
    if ('problem' in target) return Promise.resolve(failed(target.problem))
    return new Promise<HttpResult>((resolve) => {
      const exchange = new Exchange(resolve)
      if (trace !== undefined) exchange.span = traceRequest(trace, resendCount ?? 0, secretPath === true, method, target.span, headers)
      if (cancellation !== undefined) {
        exchange.cancellation = cancellation
        cancellation.listen(exchange.abort)
      } else {
        // Our own deadline: undici's headersTimeout/bodyTimeout run on a coarse (~0.5 s) shared
        // timer, too loose for the sub-second timeouts users set.
        exchange.timer = setTimeout(expire, timeoutMs, exchange, timeoutMs)
      }
      if (signal !== undefined) {
        exchange.signal = signal
        if (signal.aborted) exchange.onSignal()
        else signal.addEventListener('abort', exchange.onSignal, { once: true })
      }
      // cancelled before it started: nothing to send
      if (!exchange.ended) agent.dispatch({ origin: target.origin, path: target.path, method: method as Dispatcher.HttpMethod, headers, body }, exchange)
    })
  }

  return {
    send,
    close: () => agent.close()
  }
}
