// `email`: a plain-text message over the operator's SMTP server (`options.smtp`), through one pooled
// nodemailer transport opened on first use, so observers that never mail open no connection.
// nodemailer itself is loaded then too, so a process that never mails does not carry it.
import type { createTransport } from 'nodemailer'
import { Type } from 'typebox'
import type { Static } from 'typebox'
import type { EventEnvelope } from '../model.js'
import type { ActionContext, ActionDefinition, ActionOutcome, ActionServices, RenderedRequest } from './types.js'
import { checkTemplate, renderText } from './template.js'
import { TimeoutMsSchema, boundedText, deadlineFailure, withDeadline } from './common.js'

const Address = Type.String({ format: 'email', maxLength: 320 })
const Recipients = Type.Union([Address, Type.Array(Address, { minItems: 1, maxItems: 100 })])

export const EmailConfigSchema = Type.Object({
  type: Type.Literal('email'),
  to: Recipients,
  cc: Type.Optional(Recipients),
  /** Sender; default the `from` of `options.smtp`, else `fastify-observers@localhost`. */
  from: Type.Optional(Address),
  subject_template: Type.Optional(Type.String({ minLength: 1, maxLength: 998 })),
  body_template: Type.Optional(Type.String({ minLength: 1, maxLength: 100_000 })),
  timeout_ms: Type.Optional(TimeoutMsSchema)
}, { additionalProperties: false })

export type EmailConfig = Static<typeof EmailConfigSchema>

export const DEFAULT_SUBJECT_TEMPLATE = '[{{ event_type }}] {{ entity_type }} {{ entity_id }}'
export const DEFAULT_EMAIL_BODY_TEMPLATE =
  'Observer {{ observer.name }} matched {{ event_type }} on {{ entity_type }} {{ entity_id }} at {{ timestamp }}.\n\n' +
  'data: {{ data }}\nchanges: {{ changes }}\n'

type Mailer = ReturnType<typeof createTransport>

interface Message {
  from: string
  to: string[]
  cc: string[]
  subject: string
  text: string
}

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value])

function compose (event: EventEnvelope, config: EmailConfig, smtp: ActionServices['smtp']): Message {
  const fallbackFrom = typeof smtp?.from === 'string' ? smtp.from : 'fastify-observers@localhost'
  return {
    from: config.from ?? fallbackFrom,
    to: list(config.to),
    cc: list(config.cc),
    // Event data must not be able to start a new header line.
    subject: renderText(config.subject_template ?? DEFAULT_SUBJECT_TEMPLATE, event).replace(/[\r\n]+/g, ' '),
    text: renderText(config.body_template ?? DEFAULT_EMAIL_BODY_TEMPLATE, event)
  }
}

// Connection trouble and 4xx replies are worth retrying; 5xx replies say the message is refused.
const NETWORK_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROXY', 'EMAXLIMIT'])

export function classifySmtpError (err: unknown): ActionOutcome {
  const e = err as { responseCode?: unknown, code?: unknown, message?: string }
  const message = e?.message ?? String(err)
  if (typeof e?.responseCode === 'number') {
    const code = `SMTP_${e.responseCode}`
    return e.responseCode >= 500
      ? { ok: false, kind: 'permanent', code, message }
      : { ok: false, kind: 'transient', code, message }
  }
  if (e?.code === 'ETIMEDOUT') return { ok: false, kind: 'transient', code: 'TIMEOUT', message, timedOut: true }
  if (typeof e?.code === 'string' && NETWORK_CODES.has(e.code)) return { ok: false, kind: 'transient', code: 'NETWORK', message }
  if (e?.code === 'EENVELOPE' || e?.code === 'ECONFIG' || e?.code === 'ENOAUTH' || e?.code === 'EAUTH') {
    return { ok: false, kind: 'permanent', code: 'CONFIG', message }
  }
  return { ok: false, kind: 'transient', code: 'SMTP_ERROR', message }
}

function checkEmail (config: EmailConfig, services: ActionServices): string | null {
  if (services.smtp === undefined) return 'email actions need the smtp option'
  for (const field of ['subject_template', 'body_template'] as const) {
    const template = config[field]
    const problem = template === undefined ? null : checkTemplate(template)
    if (problem !== null) return `${field}: ${problem}`
  }
  return null
}

function renderEmail (event: EventEnvelope, config: EmailConfig, ctx: Omit<ActionContext, 'signal' | 'attempt'>): RenderedRequest {
  const message = compose(event, config, ctx.services.smtp)
  const headers: Record<string, string> = { from: message.from, to: message.to.join(', '), subject: message.subject }
  if (message.cc.length > 0) headers.cc = message.cc.join(', ')
  return { method: 'SMTP', url: null, headers, body: message.text }
}

export function createEmailAction (): ActionDefinition<EmailConfig> {
  let mailer: Promise<Mailer> | undefined

  return {
    type: 'email',
    schema: EmailConfigSchema,
    check: checkEmail,
    async run (event, config, ctx) {
      const smtp = ctx.services.smtp
      if (smtp === undefined) return { ok: false, kind: 'permanent', code: 'CONFIG', message: 'email actions need the smtp option' }
      // one transport even when the first messages go out together
      mailer ??= import('nodemailer').then((nodemailer) => nodemailer.createTransport({ pool: true, ...smtp }))
      const message = compose(event, config, smtp)
      try {
        const transport = await mailer
        const info = await withDeadline(transport.sendMail(message), config.timeout_ms ?? ctx.timeoutMs, ctx.signal)
        return { ok: true, response: boundedText(String((info as { response?: unknown }).response ?? '')) }
      } catch (err) {
        return deadlineFailure(err) ?? classifySmtpError(err)
      }
    },
    render: renderEmail,
    redact: (config) => ({ ...config }),
    async close () {
      const closing = mailer
      mailer = undefined
      ;(await closing)?.close()
    }
  }
}
