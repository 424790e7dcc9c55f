// `webhook`: POST (or PUT/PATCH) the event to a URL, signed the Standard Webhooks way when a secret
// is set. Only methods that carry a body are offered: the body is the delivery.
import { createHmac } from 'node:crypto'
import { Type } from 'typebox'
import type { Static } from 'typebox'
import type { EventEnvelope } from '../model.js'
import type { ActionContext, ActionDefinition, ActionOutcome, ActionServices, RenderedRequest } from './types.js'
import { REDACTED } from './types.js'
import type { HttpClient } from './http-client.js'
import { checkUrlLiteral } from '../net/address-guard.js'
import { checkJsonTemplate, renderJsonTemplate } from './template.js'
import { ActionConfigError, EnvNameSchema, RateLimitSchema, TimeoutMsSchema, configFailure, oneOf, originOf, requestPayload, requireEnv } from './common.js'

export const WebhookConfigSchema = Type.Object({
  type: Type.Literal('webhook'),
  url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  url_env: Type.Optional(EnvNameSchema),
  method: Type.Optional(Type.Enum(['POST', 'PUT', 'PATCH'], { default: 'POST' })),
  headers: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 8192 }))),
  headers_env: Type.Optional(Type.Record(Type.String(), EnvNameSchema)),
  body_template: Type.Optional(Type.String({ maxLength: 65_536 })),
  signing_secret: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  signing_secret_env: Type.Optional(EnvNameSchema),
  timeout_ms: Type.Optional(TimeoutMsSchema),
  rate_limit: Type.Optional(RateLimitSchema)
}, { additionalProperties: false })

export type WebhookConfig = Static<typeof WebhookConfigSchema>

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Set by the action or by the HTTP layer; a configured value would forge or break them.
const RESERVED_HEADERS = new Set([
  'webhook-id', 'webhook-timestamp', 'webhook-signature', 'idempotency-key',
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer'
])
const WHSEC = /^whsec_([A-Za-z0-9+/]+={0,2})$/

function checkHeaderNames (names: string[], field: string): string | null {
  for (const name of names) {
    if (!HEADER_NAME.test(name)) return `${field}/${name}: not a valid header name`
    if (RESERVED_HEADERS.has(name.toLowerCase())) return `${field}/${name}: set by the action itself`
  }
  return null
}

/** Standard Webhooks signing key: the base64 payload of a `whsec_` secret, else the secret's UTF-8 bytes. */
export function signingKey (secret: string): Buffer {
  if (!secret.startsWith('whsec_')) return Buffer.from(secret, 'utf8')
  const match = WHSEC.exec(secret)
  if (match === null) throw new ActionConfigError('signing secret starts with whsec_ but is not base64 after it')
  return Buffer.from(match[1], 'base64')
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (Standard Webhooks). */
export function signPayload (key: Buffer, id: string, timestamp: number, body: string): string {
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
}

function checkWebhook (config: WebhookConfig, services: ActionServices): string | null {
  const problem = oneOf(config, 'url', 'url_env', true) ?? oneOf(config, 'signing_secret', 'signing_secret_env', false)
  if (problem !== null) return problem
  if (config.url !== undefined) {
    const urlProblem = checkUrlLiteral(config.url, services.allowPrivate)
    if (urlProblem !== null) return `url: ${urlProblem}`
  }
  if (config.signing_secret?.startsWith('whsec_') === true && !WHSEC.test(config.signing_secret)) {
    return 'signing_secret: a whsec_ secret must be base64 after the prefix'
  }
  const headerProblem = checkHeaderNames(Object.keys(config.headers ?? {}), 'headers') ??
    checkHeaderNames(Object.keys(config.headers_env ?? {}), 'headers_env')
  if (headerProblem !== null) return headerProblem
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    if (/[\r\n\0]/.test(value)) return `headers/${name}: must not contain line breaks`
  }
  const lower = new Set(Object.keys(config.headers ?? {}).map((h) => h.toLowerCase()))
  for (const name of Object.keys(config.headers_env ?? {})) {
    if (lower.has(name.toLowerCase())) return `headers_env/${name}: also set in headers`
  }
  if (config.body_template !== undefined) {
    const bodyProblem = checkJsonTemplate(config.body_template)
    if (bodyProblem !== null) return `body_template: ${bodyProblem}`
  }
  return null
}

interface Prepared {
  url: string | null
  method: string
  headers: Record<string, string>
  body: string
}

// The request as sent, or (dryRun) as shown: secrets redacted and an unset URL variable left null.
// Configured header names are lower-cased so they replace ours instead of doubling them.
function prepare (event: EventEnvelope, config: WebhookConfig, idempotencyKey: string, env: ActionServices['env'], dryRun: boolean): Prepared {
  let url = config.url ?? null
  if (config.url_env !== undefined) {
    url = dryRun ? env[config.url_env] ?? null : requireEnv(env, config.url_env, 'url_env')
    const problem = url === null ? null : checkUrlLiteral(url, true)
    if (problem !== null && !dryRun) throw new ActionConfigError(`url from ${config.url_env}: ${problem}`)
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  for (const [name, value] of Object.entries(config.headers ?? {})) headers[name.toLowerCase()] = dryRun ? REDACTED : value
  for (const [name, variable] of Object.entries(config.headers_env ?? {})) {
    headers[name.toLowerCase()] = dryRun ? REDACTED : requireEnv(env, variable, `headers_env/${name}`)
  }
  headers['webhook-id'] = idempotencyKey
  headers['idempotency-key'] = idempotencyKey
  const body = config.body_template === undefined ? JSON.stringify(event) : renderJsonTemplate(config.body_template, event)
  if (config.signing_secret !== undefined || config.signing_secret_env !== undefined) {
    const timestamp = Math.floor(Date.now() / 1000)
    headers['webhook-timestamp'] = String(timestamp)
    if (dryRun) headers['webhook-signature'] = REDACTED
    else {
      const secret = config.signing_secret ?? requireEnv(env, config.signing_secret_env as string, 'signing_secret_env')
      headers['webhook-signature'] = signPayload(signingKey(secret), idempotencyKey, timestamp, body)
    }
  }
  return { url, method: config.method ?? 'POST', headers, body }
}

function renderWebhook (event: EventEnvelope, config: WebhookConfig, ctx: Omit<ActionContext, 'signal' | 'attempt'>): RenderedRequest {
  const prepared = prepare(event, config, ctx.idempotencyKey, ctx.services.env, true)
  let body: unknown = prepared.body
  try {
    body = JSON.parse(prepared.body)
  } catch {
    // an unparseable body is shown as the text it is
  }
  return { method: prepared.method, url: prepared.url, headers: prepared.headers, body }
}

function redactWebhook (config: WebhookConfig): WebhookConfig {
  const copy = { ...config }
  if (copy.headers !== undefined) copy.headers = Object.fromEntries(Object.keys(copy.headers).map((k) => [k, REDACTED]))
  if (copy.signing_secret !== undefined) copy.signing_secret = REDACTED
  return copy
}

// Configured header values may be credentials; the signature is one.
function secretHeaders (config: WebhookConfig): Set<string> {
  const names = new Set(['webhook-signature'])
  for (const name of Object.keys(config.headers ?? {})) names.add(name.toLowerCase())
  for (const name of Object.keys(config.headers_env ?? {})) names.add(name.toLowerCase())
  return names
}

export function createWebhookAction (http: HttpClient): ActionDefinition<WebhookConfig> {
  return {
    type: 'webhook',
    schema: WebhookConfigSchema,
    check: checkWebhook,
    run (event, config, ctx) {
      let request: Prepared
      try {
        request = prepare(event, config, ctx.idempotencyKey, ctx.services.env, false)
      } catch (err) {
        return Promise.resolve(err).then(configFailure)
      }
      // not async: each async layer is a promise more per delivery
      return http.send(request.url as string, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        timeoutMs: config.timeout_ms ?? ctx.timeoutMs,
        // the runtime's cancellation when there is one: reading ctx.signal would create an AbortSignal
        signal: ctx.cancellation === undefined ? ctx.signal : undefined,
        cancellation: ctx.cancellation,
        trace: ctx.trace,
        resendCount: ctx.attempt - 1
      }).then(({ outcome }): ActionOutcome => outcome.ok
        ? outcome
        : { ...outcome, request: requestPayload(request.method, request.url as string, request.headers, request.body, secretHeaders(config)) })
    },
    endpoint: (config, services) => originOf(config.url ?? (config.url_env === undefined ? undefined : services.env[config.url_env])),
    render: renderWebhook,
    redact: redactWebhook
  }
}
