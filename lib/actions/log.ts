// `log`: one structured line through the plugin's pino logger, with the ids needed to find the event.
import { Type } from 'typebox'
import type { Static } from 'typebox'
import type { EventEnvelope } from '../model.js'
import type { ActionContext, ActionDefinition, RenderedRequest } from './types.js'
import { checkTemplate, renderText } from './template.js'
import { TimeoutMsSchema } from './common.js'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const

export const LogConfigSchema = Type.Object({
  type: Type.Literal('log'),
  /** Default `info`. */
  level: Type.Optional(Type.Enum([...LOG_LEVELS])),
  message_template: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
  timeout_ms: Type.Optional(TimeoutMsSchema)
}, { additionalProperties: false })

export type LogConfig = Static<typeof LogConfigSchema>

export const DEFAULT_LOG_TEMPLATE = 'observer {{ observer.name }}: {{ event_type }} on {{ entity_type }} {{ entity_id }}'

function fields (event: EventEnvelope): Record<string, unknown> {
  return { event_id: event.event_id, observer_id: event.observer.id, entity_type: event.entity_type, entity_id: event.entity_id }
}

function renderLog (event: EventEnvelope, config: LogConfig, _ctx: Omit<ActionContext, 'signal' | 'attempt'>): RenderedRequest {
  const msg = renderText(config.message_template ?? DEFAULT_LOG_TEMPLATE, event)
  return { method: 'LOG', url: null, headers: {}, body: { level: config.level ?? 'info', ...fields(event), msg } }
}

export const logAction: ActionDefinition<LogConfig> = {
  type: 'log',
  schema: LogConfigSchema,
  check (config) {
    const problem = config.message_template === undefined ? null : checkTemplate(config.message_template)
    return problem === null ? null : `message_template: ${problem}`
  },
  async run (event, config, ctx) {
    const msg = renderText(config.message_template ?? DEFAULT_LOG_TEMPLATE, event)
    ctx.services.log[config.level ?? 'info'](fields(event), msg)
    return { ok: true }
  },
  render: renderLog,
  redact: (config) => ({ ...config })
}
