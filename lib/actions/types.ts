// The one interface every action (built-in or custom) is run through.
import type { TSchema } from 'typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { ActionConfig, EventEnvelope, RequestPayload } from '../model.js'
import type { Cancellation } from './cancellation.js'
import type { AttemptTrace } from '../tracing/tracer.js'

/** Shared, long-lived resources the actions use; built once per runtime. */
export interface ActionServices {
  /** `network.allowPrivate`: lift the save-time and delivery-time address checks. */
  allowPrivate: boolean
  /** nodemailer transport options (`options.smtp`), or undefined when email is not configured. */
  smtp: Record<string, unknown> | undefined
  /** Environment for `*_env` settings; `process.env` unless a test injects one. */
  env: Readonly<Record<string, string | undefined>>
  /** The plugin's database (the `database` action calls SQL functions through it). */
  db: Kysely<any>
  log: FastifyBaseLogger
}

/** Everything one attempt of one action knows besides its config and the event. */
export interface ActionContext {
  observer: { id: string, name: string }
  actionIndex: number
  /** 1-based attempt number. */
  attempt: number
  /** Stable for one (event, observer, action) across retries, dead-letter retries and replays. */
  idempotencyKey: string
  /** Per-attempt timeout in ms (the action's own `timeout_ms`, else the observer's). */
  timeoutMs: number
  /** Aborted when the attempt times out or the runtime shuts down. */
  signal: AbortSignal
  /**
   * The same as `signal` without its cost (the runtime's attempts carry one; built-in actions pass
   * it to the HTTP client). Whoever cancels it also enforces the deadline.
   */
  cancellation?: Cancellation
  /**
   * The trace this attempt continues (the change's, or a fresh one): HTTP actions send it as
   * `traceparent`; with an SDK registered, its `context` holds the attempt's CONSUMER span.
   */
  trace?: AttemptTrace
  services: ActionServices
}

/** How one attempt ended. `transient` failures are retried; `permanent` ones are dead-lettered at once. */
export type ActionOutcome =
  | { ok: true, statusCode?: number, response?: string }
  | {
    ok: false
    kind: 'transient' | 'permanent'
    /** stable machine code, e.g. HTTP_500, TIMEOUT, NETWORK, SSRF_BLOCKED, REDIRECT, CONFIG */
    code: string
    message: string
    statusCode?: number
    /** from a Retry-After answer, in ms */
    retryAfterMs?: number
    timedOut?: boolean
    response?: string
    /** not attempted (its endpoint's circuit is open, or it asked to wait): runs again then, as the same attempt */
    deferUntil?: Date
    /** what the attempt sent, secrets redacted and the body bounded (kept in the log row) */
    request?: RequestPayload
  }

/** What an action would send, for the dry run; secrets are redacted. */
export interface RenderedRequest {
  method: string
  url: string | null
  headers: Record<string, string>
  body: unknown
  /** message actions: the subject published to (`url` is then the server set) */
  subject?: string
}

export interface ActionDefinition<C extends ActionConfig = ActionConfig> {
  type: string
  /** TypeBox schema of the config (including `type`); checked when an observer is saved and when it runs. */
  schema: TSchema
  /**
   * Checks the schema cannot express (literal private address, SMTP configured...). Returns a problem or null;
   * a problem about one field reads `field: message` (`url: ...`, `headers/X-Key: ...`) so the registry can
   * report it as `actions/<i>/field: message`.
   */
  check?: (config: C, services: ActionServices) => string | null
  run: (event: EventEnvelope, config: C, ctx: ActionContext) => Promise<ActionOutcome>
  /** Where the action sends: an HTTP origin (scheme, host, port) or a NATS server set; null when unknown or none. */
  endpoint?: (config: C, services: ActionServices) => string | null
  /** Dry run: the request this action would make, secrets redacted. Sends nothing. */
  render: (event: EventEnvelope, config: C, ctx: Omit<ActionContext, 'signal' | 'attempt'>) => Promise<RenderedRequest> | RenderedRequest
  /** The config as the API may show it: secret values replaced by `REDACTED`. */
  redact: (config: C) => C
  /** Release pooled resources (HTTP agents, SMTP transports). */
  close?: () => Promise<void>
}

export const REDACTED = '[redacted]'

/** A custom action from `options.actions`: plain code, any config. */
export type CustomActionHandler = (
  event: EventEnvelope,
  config: ActionConfig,
  ctx: ActionContext
) => Promise<unknown> | unknown
