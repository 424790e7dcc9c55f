// `slack`: post a message to a Slack incoming webhook. The webhook URL embeds Slack's token, so it is
// a secret: redacted in the config and shown only by origin in a dry run.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import type { EventEnvelope } from '../model.js'
import type { ActionContext, ActionDefinition, ActionServices, RenderedRequest } from './types.js'
import { REDACTED } from './types.js'
import type { HttpClient } from './http-client.js'
import { checkUrlLiteral } from '../net/address-guard.js'
import { checkTemplate, renderText } from './template.js'
import { ActionConfigError, EnvNameSchema, RateLimitSchema, TimeoutMsSchema, configFailure, oneOf, originOf, requestPayload, requireEnv } from './common.js'

export const SlackConfigSchema = Type.Object({
  type: Type.Literal('slack'),
  webhook_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  webhook_url_env: Type.Optional(EnvNameSchema),
  channel: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  message_template: Type.Optional(Type.String({ minLength: 1, maxLength: 40_000 })),
  timeout_ms: Type.Optional(TimeoutMsSchema),
  rate_limit: Type.Optional(RateLimitSchema)
}, { additionalProperties: false })

export type SlackConfig = Static<typeof SlackConfigSchema>

/** Used when `message_template` is not set. */
export const DEFAULT_SLACK_TEMPLATE = '{{ event_type }} on {{ entity_type }} {{ entity_id }} (observer {{ observer.name }})'

function checkSlack (config: SlackConfig, services: ActionServices): string | null {
  const problem = oneOf(config, 'webhook_url', 'webhook_url_env', true)
  if (problem !== null) return problem
  if (config.webhook_url !== undefined) {
    // The URL is secret: name the problem, not the URL.
    const urlProblem = checkUrlLiteral(config.webhook_url, services.allowPrivate)
    if (urlProblem !== null) return `webhook_url: ${urlProblem}`
  }
  if (config.message_template !== undefined) {
    const templateProblem = checkTemplate(config.message_template)
    if (templateProblem !== null) return `message_template: ${templateProblem}`
  }
  return null
}

const NO_SECRET_HEADERS: ReadonlySet<string> = new Set()

function message (event: EventEnvelope, config: SlackConfig): string {
  const text = renderText(config.message_template ?? DEFAULT_SLACK_TEMPLATE, event)
  return JSON.stringify(config.channel === undefined ? { text } : { text, channel: config.channel })
}

function webhookUrl (config: SlackConfig, env: ActionServices['env']): string {
  if (config.webhook_url !== undefined) return config.webhook_url
  const url = requireEnv(env, config.webhook_url_env as string, 'webhook_url_env')
  const problem = checkUrlLiteral(url, true)
  if (problem !== null) throw new ActionConfigError(`webhook URL from ${config.webhook_url_env as string}: ${problem}`)
  return url
}

function renderSlack (event: EventEnvelope, config: SlackConfig, ctx: Omit<ActionContext, 'signal' | 'attempt'>): RenderedRequest {
  let url: string | null = null
  try {
    url = `${new URL(webhookUrl(config, ctx.services.env)).origin}/${REDACTED}`
  } catch {
    // an unset or unusable URL variable: the dry run shows no URL
  }
  return { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: JSON.parse(message(event, config)) }
}

export function createSlackAction (http: HttpClient): ActionDefinition<SlackConfig> {
  return {
    type: 'slack',
    schema: SlackConfigSchema,
    check: checkSlack,
    async run (event, config, ctx) {
      let url: string
      try {
        url = webhookUrl(config, ctx.services.env)
      } catch (err) {
        return configFailure(err)
      }
      const headers = { 'content-type': 'application/json' }
      const body = message(event, config)
      const { outcome } = await http.send(url, {
        method: 'POST',
        headers,
        body,
        timeoutMs: config.timeout_ms ?? ctx.timeoutMs,
        // the runtime's cancellation when there is one: reading ctx.signal would create an AbortSignal
        signal: ctx.cancellation === undefined ? ctx.signal : undefined,
        cancellation: ctx.cancellation,
        trace: ctx.trace,
        resendCount: ctx.attempt - 1,
        secretPath: true
      })
      return outcome.ok ? outcome : { ...outcome, request: requestPayload('POST', url, headers, body, NO_SECRET_HEADERS, true) }
    },
    endpoint: (config, services) => originOf(config.webhook_url ?? (config.webhook_url_env === undefined ? undefined : services.env[config.webhook_url_env])),
    render: renderSlack,
    redact: (config) => (config.webhook_url === undefined ? { ...config } : { ...config, webhook_url: REDACTED })
  }
}
