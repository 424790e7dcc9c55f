// Endpoints (SPEC 9.3): the destinations of actions, each with its circuit, pause and rate limit.
import { Type } from 'typebox'
import { explainPattern } from '../../lib/schema-errors.js'
import { DateTimeSchema, Nullable, UuidSchema } from './common.js'

/** What an endpoint value must look like; the message of the 400 when it does not. */
export const ENDPOINT_PROBLEM = 'must be an http(s) origin: scheme://host[:port], with no path, query or trailing slash (e.g. https://hooks.example.com), ' +
  'or a NATS server set (nats://host:4222,nats://host2:4222)'

// host: a name or IPv4 address (ASCII; an IDN as its punycode, which is how origins are listed) or a bracketed IPv6 address
const HOST = '([A-Za-z0-9._~-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?'
const NATS_SERVER = `(nats|tls)://${HOST}`
const ORIGIN_PATTERN = explainPattern(`^(https?://${HOST}|${NATS_SERVER}(,${NATS_SERVER})*)$`, ENDPOINT_PROBLEM)

export const EndpointOriginSchema = Type.String({
  maxLength: 2048,
  pattern: ORIGIN_PATTERN,
  description: 'An action\'s destination origin, as GET /observers/endpoints lists it (`https://hooks.example.com`, `http://10.0.0.5:8080`, ' +
    'a NATS server set `nats://10.0.0.7:4222,nats://10.0.0.8:4222`)'
})

export const EndpointSchema = Type.Object({
  endpoint: Type.String({ description: 'The origin (scheme, host, port) of the actions sending there' }),
  state: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half_open'), Type.Literal('disabled')], {
    description: 'closed: attempts go; open: failing, deliveries wait (no attempt used) until the probe; ' +
      'half_open: one probe attempt is out; disabled: open too long, its observers disabled (reset it to send again)'
  }),
  attempts_window: Type.Integer({ description: 'Attempts in this instance\'s rolling window' }),
  failures_window: Type.Integer({ description: 'Transient failures (5xx, timeouts, network errors) among them' }),
  opened_at: Nullable(DateTimeSchema, 'When the circuit opened; null while closed'),
  next_probe_at: Nullable(DateTimeSchema, 'When the next probe may go (open), or when the probe out is given up on (half_open)'),
  paused_until: Nullable(DateTimeSchema, 'Set by a 429 with Retry-After: no attempt goes before it'),
  in_flight: Type.Integer({ description: 'Attempts in flight from this instance' }),
  waiting: Type.Integer({ description: 'Deliveries waiting in the retry schedule for it (every instance)' }),
  rate_limit: Nullable(Type.Object({
    per_second: Type.Number(),
    burst: Type.Integer()
  }), 'The strictest rate_limit of the actions sending there; null when none has one'),
  // readonly: the runtime hands out its own list, which the serializer only reads
  observers: Type.Unsafe<readonly string[]>(Type.Array(UuidSchema, { description: 'The loaded (enabled) observers with an action sending there' }))
}, { title: 'Endpoint' })

export const EndpointListSchema = Type.Object({
  data: Type.Array(EndpointSchema, { description: 'By endpoint' })
}, { title: 'EndpointList' })

export const ResetEndpointSchema = Type.Object({
  endpoint: EndpointOriginSchema,
  enable_observers: Type.Optional(Type.Boolean({
    default: false,
    description: 'Also enable the observers that were disabled because this endpoint was (their disabled_reason names it)'
  }))
}, { additionalProperties: false, title: 'ResetEndpoint' })

export const ResetEndpointResultSchema = Type.Object({
  endpoint: Type.String({ description: 'The endpoint reset, as an origin' }),
  closed: Type.Boolean({ description: 'true when its circuit was open, half-open or disabled and is now closed (what waited for it is due now); false when it was already closed' })
}, { title: 'ResetEndpointResult' })
