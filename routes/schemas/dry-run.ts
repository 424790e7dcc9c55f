// POST /test: a dry run of one observer against one event.
import { Type } from 'typebox'
import { JsonObjectSchema, Nullable, UuidSchema, dateTimeInput } from './common.js'
import { ChangeLogIdInput } from './cursor-input.js'
import { CreateObserverSchema, EventTypeSchema } from './observers.js'

const Json = Nullable(JsonObjectSchema)

export const DryRunEventSchema = Type.Object({
  event_type: EventTypeSchema,
  entity_type: Type.String({ minLength: 1, maxLength: 200 }),
  entity_id: Type.Optional(Type.String({ maxLength: 1000, default: '' })),
  tenant_id: Type.Optional(Nullable(Type.String())),
  user_id: Type.Optional(Nullable(Type.String())),
  timestamp: Type.Optional(dateTimeInput()),
  data: Type.Optional(Json),
  before: Type.Optional(Json),
  changes: Type.Optional(Nullable(Type.Record(Type.String(), Type.Object({ old: Type.Unknown(), new: Type.Unknown() }))))
}, {
  additionalProperties: false,
  title: 'DryRunEvent',
  description: 'An event envelope without ids. For an UPDATE with `before` and no `changes`, changes are computed from the two images'
})

export const DryRunBodySchema = Type.Object({
  observer: Type.Optional(CreateObserverSchema),
  observer_id: Type.Optional(UuidSchema),
  event: Type.Optional(DryRunEventSchema),
  change_log_id: Type.Optional(ChangeLogIdInput('A change-log id: the row to run the observer against'))
}, { additionalProperties: false, description: 'Exactly one of observer / observer_id and one of event / change_log_id' })

export const RenderedRequestSchema = Type.Object({
  method: Type.String(),
  url: Nullable(Type.String()),
  headers: Type.Record(Type.String(), Type.String()),
  body: Type.Unknown(),
  subject: Type.Optional(Type.String({ description: 'Message actions (nats): the subject it would publish to; url is then the server set' }))
}, { description: 'What the action would send, secrets redacted' })

export const DryRunResultSchema = Type.Object({
  matches: Type.Boolean(),
  reason: Nullable(Type.Union([Type.Literal('disabled'), Type.Literal('event_type'), Type.Literal('entity_type'), Type.Literal('tenant'), Type.Literal('condition')]),
    'The first rule that failed; null when it matches'),
  condition: Nullable(Type.Boolean(), 'The condition\'s value; null when not evaluated'),
  actions: Type.Array(Type.Object({
    index: Type.Integer(),
    type: Type.String(),
    request: Nullable(RenderedRequestSchema),
    error: Type.Optional(Type.String({ description: 'Why the request could not be rendered' }))
  }))
}, { title: 'DryRunResult' })
