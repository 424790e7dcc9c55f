// The `nats` action's configuration: its schema, the save-time checks, the server set (the action's
// endpoint), the subject and the headers of the message. Pure: no I/O.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import type { EventEnvelope } from '../model.js'
import type { ActionServices } from './types.js'
import { REDACTED } from './types.js'
import { checkHostLiteral } from '../net/address-guard.js'
import { checkTemplate, renderEscaped, SAMPLE_ENVELOPE } from './template.js'
import { ActionConfigError, EnvNameSchema, RateLimitSchema, TimeoutMsSchema, oneOf, requireEnv } from './common.js'

const ServerUrl = Type.String({ minLength: 1, maxLength: 2048 })

export const NatsConfigSchema = Type.Object({
  type: Type.Literal('nats'),
  /** `nats://host:4222`, a comma-separated list of them, or an array */
  servers: Type.Optional(Type.Union([ServerUrl, Type.Array(ServerUrl, { minItems: 1, maxItems: 16 })])),
  servers_env: Type.Optional(EnvNameSchema),
  /** a `{{ path }}` template; each value is made subject-safe. Default `observers.{{ entity_type }}.{{ event_type }}` */
  subject: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  headers: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 8192 }))),
  /** a variable holding a NATS credentials file (its text, or its path) */
  credentials_env: Type.Optional(EnvNameSchema),
  /** a variable holding the server's auth token */
  token_env: Type.Optional(EnvNameSchema),
  timeout_ms: Type.Optional(TimeoutMsSchema),
  rate_limit: Type.Optional(RateLimitSchema)
}, { additionalProperties: false })

export type NatsConfig = Static<typeof NatsConfigSchema>

export const DEFAULT_SUBJECT = 'observers.{{ entity_type }}.{{ event_type }}'
const DEFAULT_PORT = 4222
const MAX_SERVERS = 16

/** One server as connected to, and the set's normal form (sorted, deduplicated), which is the endpoint. */
export interface ServerSet {
  /** `nats://host:port` (or `tls://`), lower-case host, default port filled in */
  servers: string[]
  hosts: Array<{ host: string, port: number, tls: boolean }>
  /** `nats://a:4222,nats://b:4222`: the key of the shared connection and of the endpoint guard */
  endpoint: string
}

function parseServer (text: string): { url: string, host: string, port: number, tls: boolean } | string {
  const trimmed = text.trim()
  if (trimmed === '') return 'must not be empty'
  let url: URL
  try {
    url = new URL(trimmed.includes('://') ? trimmed : `nats://${trimmed}`)
  } catch {
    return `'${trimmed}' is not a server URL (nats://host:port)`
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') return `must use nats:// or tls://, not ${url.protocol.slice(0, -1)}`
  if (url.username !== '' || url.password !== '') return 'must not contain credentials; use credentials_env or token_env'
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') return 'must be scheme://host:port, with no path or query'
  const host = url.hostname.toLowerCase()
  if (host === '') return 'must name a host'
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port)
  return { url: `${url.protocol}//${host}:${port}`, host: host.replace(/^\[(.*)\]$/, '$1'), port, tls: url.protocol === 'tls:' }
}

/** The normal form of `servers`, or the problem (`must use nats://...`). */
export function parseServerSet (servers: string | readonly string[]): ServerSet | string {
  const list = typeof servers === 'string' ? servers.split(',') : servers.flatMap((s) => s.split(','))
  if (list.length > MAX_SERVERS) return `at most ${MAX_SERVERS} servers`
  const byUrl = new Map<string, { host: string, port: number, tls: boolean }>()
  for (const text of list) {
    const parsed = parseServer(text)
    if (typeof parsed === 'string') return parsed
    const { url, ...host } = parsed
    byUrl.set(url, host)
  }
  const urls = [...byUrl.keys()].sort()
  return { servers: urls, hosts: urls.map((u) => byUrl.get(u) as { host: string, port: number, tls: boolean }), endpoint: urls.join(',') }
}

/** The set from the config or its variable; throws ActionConfigError naming the setting, never a value. */
export function serverSetOf (config: NatsConfig, env: ActionServices['env']): ServerSet {
  const text = config.servers ?? requireEnv(env, config.servers_env as string, 'servers_env')
  const set = parseServerSet(text)
  if (typeof set === 'string') throw new ActionConfigError(config.servers === undefined ? `servers from ${config.servers_env as string}: ${set}` : `servers: ${set}`)
  return set
}

/** Why a host of the set may not be contacted (literal private address, `localhost`), or null. */
export function refusedHost (set: ServerSet): string | null {
  for (const { host } of set.hosts) {
    const reason = checkHostLiteral(host)
    if (reason !== null) return `refused: ${reason}`
  }
  return null
}

// A token may hold neither a dot (it would add a token) nor a wildcard nor white space.
const UNSAFE = /[\s.*>]/g
/** `text` as one subject token: unsafe characters become `_`, an empty value `_`. */
export const subjectToken = (text: string): string => text === '' ? '_' : text.replace(UNSAFE, '_')

const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/

export function subjectOf (config: NatsConfig, event: EventEnvelope): string {
  return renderEscaped(config.subject ?? DEFAULT_SUBJECT, event, subjectToken)
}

function checkSubject (subject: string): string | null {
  const problem = checkTemplate(subject)
  if (problem !== null) return problem
  const sample = subjectOf({ type: 'nats', subject }, SAMPLE_ENVELOPE)
  if (!SUBJECT.test(sample)) return 'must be dot-separated tokens without spaces or wildcards (* >), e.g. orders.{{ event_type }}'
  if (/^\$(JS|SYS)\./.test(sample)) return 'must not be a $JS. or $SYS. subject (the server\'s own API)'
  return null
}

// Set by the action itself; a configured value would break deduplication or the trace.
const RESERVED = /^(nats-.*|traceparent|tracestate|observers-.*)$/i
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export function checkNats (config: NatsConfig, services: ActionServices): string | null {
  const problem = oneOf(config, 'servers', 'servers_env', true) ?? oneOf(config, 'credentials_env', 'token_env', false)
  if (problem !== null) return problem
  if (config.servers !== undefined) {
    const set = parseServerSet(config.servers)
    if (typeof set === 'string') return `servers: ${set}`
    const refused = services.allowPrivate ? null : refusedHost(set)
    if (refused !== null) return `servers: ${refused}`
  }
  if (config.subject !== undefined) {
    const subjectProblem = checkSubject(config.subject)
    if (subjectProblem !== null) return `subject: ${subjectProblem}`
  }
  for (const [name, value] of Object.entries(config.headers ?? {})) {
    if (!HEADER_NAME.test(name)) return `headers/${name}: not a valid header name`
    if (RESERVED.test(name)) return `headers/${name}: set by the action itself`
    if (/[\r\n\0]/.test(value)) return `headers/${name}: must not contain line breaks`
  }
  return null
}

// an entity id is any text; a line break would end the header block
const oneLine = (text: string): string => text.replace(/[\r\n]+/g, ' ')

/**
 * The message's headers: the configured ones (values redacted for a dry run), `Nats-Msg-Id` (the
 * delivery's idempotency key: JetStream stores a retry or a replay once), and the event's ids.
 */
export function messageHeaders (event: EventEnvelope, config: NatsConfig, idempotencyKey: string, dryRun: boolean): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(config.headers ?? {})) headers[name] = dryRun ? REDACTED : value
  headers['Content-Type'] = 'application/json'
  headers['Nats-Msg-Id'] = idempotencyKey
  headers['Observers-Event-Id'] = event.event_id
  headers['Observers-Event-Type'] = event.event_type
  headers['Observers-Entity-Type'] = oneLine(event.entity_type)
  headers['Observers-Entity-Id'] = oneLine(event.entity_id)
  return headers
}

/** The config as the API shows it: header values redacted (they may be credentials). */
export function redactNats (config: NatsConfig): NatsConfig {
  const copy = { ...config }
  if (copy.headers !== undefined) copy.headers = Object.fromEntries(Object.keys(copy.headers).map((k) => [k, REDACTED]))
  return copy
}
