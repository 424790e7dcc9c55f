// The observer resource: what the API accepts and what it serves.
import { Type, type TSchema } from 'typebox'
import type { RetryConfig } from '../../lib/model.js'
import { RetryConfigSchema } from '../../lib/runtime/delivery/retry-policy.js'
import { explainPattern } from '../../lib/schema-errors.js'
import { DateTimeSchema, Nullable, UuidSchema } from './common.js'

const EVENT_TYPES = ['INSERT', 'UPDATE', 'DELETE', 'CUSTOM', 'READ']
const anyCase = (word: string): string => [...word].map((c) => `[${c}${c.toLowerCase()}]`).join('')

/** INSERT, UPDATE, DELETE, CUSTOM or READ in any case (stored upper-case). */
export const EventTypeSchema = Type.String({
  pattern: explainPattern(`^(${EVENT_TYPES.map(anyCase).join('|')})$`, 'must be one of INSERT, UPDATE, DELETE, CUSTOM, READ (any case)'),
  description: 'INSERT, UPDATE, DELETE, CUSTOM or READ (a row a backfill read), in any case; stored upper-case'
})

export const ActionSchema = Type.Object({
  type: Type.String({ minLength: 1, description: 'webhook, slack, email, database, log, nats, or a custom action name' })
}, {
  additionalProperties: true,
  title: 'Action',
  description: 'An action: its `type` plus that type\'s settings, validated by the type\'s own schema. ' +
    'Secrets (header values, signing secrets, Slack URLs) are served as "[redacted]"; sending "[redacted]" back in a PATCH keeps the stored secret.'
})

// the runtime's schema, typed as the model's (its union is built with .map, which TypeScript cannot type)
const RetryConfigHttpSchema = Type.Unsafe<Partial<RetryConfig>>(RetryConfigSchema)
const RetryConfigInputSchema = Nullable(RetryConfigHttpSchema, 'Retry policy; null = defaults (3 attempts, exponential from 1000 ms up to 60000 ms, jitter)')

// `defaults` documents the values create applies; the PATCH schema has none (absent = unchanged)
function fields (defaults: boolean) {
  const d = (value: unknown): { default?: unknown } => defaults ? { default: value } : {}
  return {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'Unique among the live observers of a tenant' }),
    description: Nullable(Type.String({ maxLength: 2000 })),
    entity_type: Nullable(Type.String({ minLength: 1, maxLength: 200 }), 'Entity (table) to watch; null or "*" = every entity'),
    event_type: Nullable(EventTypeSchema, 'null = every event type'),
    condition_expression: Nullable(Type.String({ maxLength: 65_536 }), 'Condition language of SPEC section 4, at most 4096 bytes; null = always'),
    actions: Type.Array(ActionSchema, { minItems: 1, maxItems: 100 }),
    enabled: Type.Boolean(d(true)),
    priority: Type.Integer({ minimum: 0, maximum: 1000, description: 'Lower runs first', ...d(100) }),
    retry_config: RetryConfigInputSchema,
    timeout_ms: Type.Integer({ minimum: 1, maximum: 600_000, description: 'Per action attempt, in ms', ...d(30_000) }),
    ordering: Type.Union([Type.Literal('none'), Type.Literal('entity')], {
      description: 'entity: the events of one (entity_type, entity_id) reach this observer one at a time, in commit order; ' +
        'a delivery that fails holds only its own entity, whose later events wait (parked) until it resolves',
      ...d('none')
    }),
    on_dead_letter: Type.Union([Type.Literal('skip'), Type.Literal('block')], {
      description: 'Ordered observers: when a delivery is dead-lettered, skip lets the entity\'s later events go on; ' +
        'block holds them until that dead letter is retried successfully or discarded',
      ...d('skip')
    }),
    tenant_id: Nullable(Type.String({ minLength: 1, maxLength: 200 }), 'null = global. With a tenant resolver this is always the request\'s tenant')
  }
}

const createFields = fields(true)
export const CreateObserverSchema = Type.Object({
  ...createFields,
  description: Type.Optional(createFields.description),
  entity_type: Type.Optional(createFields.entity_type),
  event_type: Type.Optional(createFields.event_type),
  condition_expression: Type.Optional(createFields.condition_expression),
  enabled: Type.Optional(createFields.enabled),
  priority: Type.Optional(createFields.priority),
  retry_config: Type.Optional(createFields.retry_config),
  timeout_ms: Type.Optional(createFields.timeout_ms),
  ordering: Type.Optional(createFields.ordering),
  on_dead_letter: Type.Optional(createFields.on_dead_letter),
  tenant_id: Type.Optional(createFields.tenant_id)
}, { additionalProperties: false, title: 'CreateObserver' })

const patchFields = fields(false)
export const PatchObserverSchema = Type.Object(
  Object.fromEntries(Object.entries(patchFields).map(([k, v]) => [k, Type.Optional(v as TSchema)])) as {
    [K in keyof typeof patchFields]: ReturnType<typeof Type.Optional<(typeof patchFields)[K]>>
  },
  { additionalProperties: false, minProperties: 1, title: 'PatchObserver', description: 'Fields to change; null clears a nullable field' }
)

export const ObserverSchema = Type.Object({
  id: UuidSchema,
  name: Type.String(),
  description: Nullable(Type.String()),
  entity_type: Nullable(Type.String()),
  event_type: Nullable(Type.String()),
  condition_expression: Nullable(Type.String()),
  actions: Type.Array(ActionSchema),
  enabled: Type.Boolean(),
  priority: Type.Integer(),
  retry_config: Nullable(RetryConfigHttpSchema),
  timeout_ms: Type.Integer(),
  ordering: Type.Union([Type.Literal('none'), Type.Literal('entity')]),
  on_dead_letter: Type.Union([Type.Literal('skip'), Type.Literal('block')]),
  disabled_reason: Nullable(Type.String(), 'Read-only: why the runtime disabled the observer (e.g. an endpoint of its actions was disabled); ' +
    'null otherwise. Enabling the observer clears it'),
  tenant_id: Nullable(Type.String()),
  created_at: DateTimeSchema,
  updated_at: DateTimeSchema,
  created_by: Nullable(Type.String(), 'The request\'s tenant when a tenant resolver is configured, else null'),
  updated_by: Nullable(Type.String(), 'The request\'s tenant when a tenant resolver is configured, else null'),
  deleted_at: Nullable(DateTimeSchema)
}, { title: 'Observer' })

export const ObserverListQuerySchema = Type.Object({
  // its offset must fit PostgreSQL's bigint; a million pages of 100 is far past any observer table
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 }),
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 500,
    description: 'The next_cursor of the previous answer: the page after it, as fast deep in the list as at its start (give page or cursor, not both)'
  })),
  entity_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  event_type: Type.Optional(EventTypeSchema),
  enabled: Type.Optional(Type.Boolean()),
  include_deleted: Type.Boolean({ default: false, description: 'Also list soft-deleted observers' })
}, { additionalProperties: false })

export const ObserverPageSchema = Type.Object({
  data: Type.Array(ObserverSchema),
  page: Type.Integer(),
  page_size: Type.Integer(),
  /** exact up to 10 000, an estimate beyond (total_estimated) */
  total_count: Type.Integer({ description: 'Exact up to 10 000; beyond, an estimate and total_estimated is true' }),
  total_pages: Type.Integer(),
  total_estimated: Type.Boolean(),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page; null on the last page' })
}, { title: 'ObserverPage' })
