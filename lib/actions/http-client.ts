// The one HTTP client of the webhook and Slack actions: a keep-alive undici Agent whose sockets only
// ever connect to addresses the SSRF guard checked. undici's dispatcher API is used rather than
// global fetch: on the reference machine it sustains ~34 000 POSTs/s against ~5 000.
import { Agent } from 'undici'
import type { IncomingHttpHeaders } from 'node:http'
import type { ActionOutcome } from './types.js'
import { checkHostLiteral, createGuardedLookup } from '../net/address-guard.js'
import type { Resolver } from '../net/address-guard.js'
import { STORED_RESULT_BYTES } from './common.js'
import { parseRetryAfter } from '../runtime/retry-policy.js'

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
  /** Deadline for the whole request, connecting and reading the body included. */
  timeoutMs: number
  /** Aborts the request; a `TimeoutError` reason is reported as TIMEOUT, any other as CANCELLED. */
  signal?: AbortSignal
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

function headerText (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** 2xx ok; 408, 429 and 5xx transient; 3xx and other 4xx permanent (redirects are never followed). */
export function classifyStatus (statusCode: number, headers: IncomingHttpHeaders, body: string): ActionOutcome {
  if (statusCode >= 200 && statusCode < 300) return { ok: true, statusCode, response: body }
  const code = `HTTP_${statusCode}`
  if (statusCode >= 300 && statusCode < 400) {
    const location = headerText(headers.location)
    const message = location === undefined
      ? `redirect (${statusCode}) without a Location header; redirects are not followed`
      : `redirect (${statusCode}) to ${location} not followed`
    return { ok: false, kind: 'permanent', code: 'REDIRECT', message, statusCode, response: body }
  }
  if (statusCode === 408 || statusCode === 429 || statusCode >= 500) {
    const retryAfterMs = parseRetryAfter(headerText(headers['retry-after']), new Date())
    return {
      ok: false,
      kind: 'transient',
      code,
      message: `endpoint answered ${statusCode}`,
      statusCode,
      response: body,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs })
    }
  }
  return { ok: false, kind: 'permanent', code, message: `endpoint answered ${statusCode}`, statusCode, response: body }
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

/** Classifies a request that produced no response. */
export function classifyError (err: unknown, signal?: AbortSignal): ActionOutcome {
  const e = err as { code?: unknown, message?: string, name?: string }
  const message = e?.message ?? String(err)
  if (e?.code === 'SSRF_BLOCKED') return { ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message }
  if (signal?.aborted === true) {
    const reason = signal.reason as { name?: string } | undefined
    return reason?.name === 'TimeoutError'
      ? { ok: false, kind: 'transient', code: 'TIMEOUT', message: (reason as Error).message || 'request timed out', timedOut: true }
      : { ok: false, kind: 'transient', code: 'CANCELLED', message: 'request cancelled' }
  }
  if (typeof e?.code === 'string' && TIMEOUT_CODES.has(e.code)) {
    return { ok: false, kind: 'transient', code: 'TIMEOUT', message: `request timed out (${e.code})`, timedOut: true }
  }
  // undici refuses what it cannot send (a header value with a newline, say): retrying cannot help.
  if (e?.code === 'UND_ERR_INVALID_ARG') return { ok: false, kind: 'permanent', code: 'CONFIG', message }
  const code = typeof e?.code === 'string' ? e.code : (e?.name ?? 'Error')
  return { ok: false, kind: 'transient', code: 'NETWORK', message: `${code}: ${message}` }
}

interface ResponseBody {
  on: (event: 'data', listener: (chunk: Buffer) => void) => unknown
  dump: (options: { limit: number }) => Promise<unknown>
}

// Keep the first bytes for the log but read the rest too: a body left unread pins the socket and
// defeats keep-alive. dump() destroys the socket instead once DRAIN_LIMIT is passed.
async function readBounded (body: ResponseBody): Promise<string> {
  const chunks: Buffer[] = []
  let kept = 0
  body.on('data', (chunk) => {
    if (kept >= STORED_RESULT_BYTES) return
    const part = chunk.subarray(0, STORED_RESULT_BYTES - kept)
    chunks.push(part)
    kept += part.length
  })
  await body.dump({ limit: DRAIN_LIMIT })
  return chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')
}

function expire (controller: AbortController, timeoutMs: number): void {
  controller.abort(new DOMException(`request timed out after ${timeoutMs} ms`, 'TimeoutError'))
}

function failed (outcome: ActionOutcome): HttpResult {
  return { outcome, statusCode: null, headers: {}, body: '' }
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

  async function send (url: string, { method, headers, body, timeoutMs, signal }: SendOptions): Promise<HttpResult> {
    let target: URL
    try {
      target = new URL(url)
    } catch {
      return failed({ ok: false, kind: 'permanent', code: 'CONFIG', message: `not a valid URL: ${url}` })
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return failed({ ok: false, kind: 'permanent', code: 'CONFIG', message: `URL must use http or https: ${url}` })
    }
    if (!options.allowPrivate) {
      const reason = checkHostLiteral(target.hostname)
      if (reason !== null) return failed({ ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message: `refused: ${reason}` })
    }
    // Our own deadline: undici's headersTimeout/bodyTimeout run on a coarse (~0.5 s) shared timer,
    // too loose for the sub-second timeouts users set.
    const controller = new AbortController()
    const timer = setTimeout(expire, timeoutMs, controller, timeoutMs)
    const forward = (): void => controller.abort(signal?.reason)
    if (signal?.aborted === true) forward()
    else signal?.addEventListener('abort', forward, { once: true })
    try {
      const res = await agent.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: method as 'POST',
        headers,
        body,
        signal: controller.signal
      })
      const text = await readBounded(res.body as unknown as ResponseBody)
      return { outcome: classifyStatus(res.statusCode, res.headers, text), statusCode: res.statusCode, headers: res.headers, body: text }
    } catch (err) {
      return failed(classifyError(err, controller.signal))
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', forward)
    }
  }

  return {
    send,
    close: () => agent.close()
  }
}
