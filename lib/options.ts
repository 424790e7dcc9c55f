// Plugin options: one TypeBox schema, validated once at register, resolved into a frozen object.
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'
import type { FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type pg from 'pg'
import type { CustomActionHandler } from './actions/types.js'
import { InvalidOptionError } from './errors.js'
import { dotted, schemaProblem } from './schema-errors.js'

const Fn = Type.Function([Type.Any()], Type.Any())
const PositiveInt = (defaultValue: number, extra: object = {}) => Type.Integer({ minimum: 1, default: defaultValue, ...extra })

const Ms = (defaultValue: number) => Type.Integer({ minimum: 1, default: defaultValue })

/** SPEC 9.3: when an endpoint's circuit opens, how long it stays open, when it is disabled */
export const CircuitBreakerSchema = Type.Object({
  /** the rolling window the failure rate is measured over (60 000) */
  windowMs: Ms(60_000),
  /** fewest attempts in the window before the circuit may open (10) */
  minAttempts: PositiveInt(10),
  /** share of transient failures in the window that opens it (0.7) */
  failureRate: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.7 }),
  /** first cool-down before a probe (30 000); doubles while probes fail */
  coolDownMs: Ms(30_000),
  /** longest cool-down (600 000) */
  maxCoolDownMs: Ms(600_000),
  /** an endpoint open this long is disabled, with its observers (3 days) */
  disableAfterMs: Ms(3 * 24 * 3600_000)
}, { additionalProperties: false })

export const RuntimeOptionsSchema = Type.Object({
  /** idle poll fallback in ms; NOTIFY makes the common case immediate (100) */
  pollIntervalMs: PositiveInt(100, { maximum: 60_000 }),
  /** change-log rows read per batch (100) */
  batchSize: PositiveInt(100, { maximum: 10_000 }),
  /** most deliveries in flight at once (1000) */
  channelCapacity: PositiveInt(1000, { maximum: 1_000_000 }),
  /** most actions running at once (32) */
  concurrency: PositiveInt(32, { maximum: 10_000 }),
  /** reload observers periodically and on change notifications (true) */
  autoReload: Type.Boolean({ default: true }),
  /** period of the automatic reload in seconds (60) */
  reloadIntervalSecs: PositiveInt(60),
  /** name of this reader's checkpoint; instances with the same id share one stream ('default') */
  listenerId: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_.:-]+$', default: 'default' }),
  /** how long close() waits for in-flight deliveries, in ms (10000) */
  shutdownTimeoutMs: Type.Integer({ minimum: 0, default: 10_000 }),
  /** false = API only, no runtime in this process (true) */
  start: Type.Boolean({ default: true }),
  /** longest an open transaction may hold back other committed events, in ms (1000) */
  horizonStallMs: Type.Integer({ minimum: 10, default: 1000 }),
  /** most attempts in flight to one endpoint (origin), so a slow one cannot hold every slot (8) */
  maxInFlightPerEndpoint: PositiveInt(8, { maximum: 10_000 }),
  /** per-endpoint circuit breaker; false turns it off ({}: the defaults) */
  circuitBreaker: Type.Union([Type.Literal(false), CircuitBreakerSchema], { default: {} }),
  /** partitions of the listener's stream, shared out among the instances (1) */
  partitions: PositiveInt(1, { maximum: 256 }),
  /** how long a partition being handed over may drain what it has in flight, in ms (5000) */
  handoffDrainMs: Type.Integer({ minimum: 0, default: 5000 }),
  /** how long a silent instance keeps its partitions (a restart with the same instanceId gets them back), in ms (5000) */
  partitionLeaseMs: Type.Integer({ minimum: 1000, maximum: 60_000, default: 5000 }),
  /** this instance's name among those sharing the partitions (host:pid) */
  instanceId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 }))
}, { additionalProperties: false, default: {} })

export const OptionsSchema = Type.Object({
  /** a connection URL: the plugin opens and closes its own pool */
  connectionString: Type.Optional(Type.String({ minLength: 1 })),
  /** a pg.Pool owned by the caller */
  pool: Type.Optional(Type.Unknown()),
  /** a Kysely instance owned by the caller */
  db: Type.Optional(Type.Unknown()),
  /** Postgres schema holding every table of the plugin ('observer') */
  schema: Type.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$', default: 'observer' }),
  /** run pending migrations at register (true) */
  migrate: Type.Boolean({ default: true }),
  /** admin API prefix ('/observers') */
  prefix: Type.String({ pattern: '^/[A-Za-z0-9/_-]*$', default: '/observers' }),
  /** false registers no routes (true) */
  routes: Type.Boolean({ default: true }),
  /** required: bearer tokens, a function deciding per request, or false when the host authenticates */
  auth: Type.Union([
    Type.Literal(false),
    Fn,
    Type.Object({ tokens: Type.Array(Type.String({ minLength: 16 }), { minItems: 1 }) }, { additionalProperties: false })
  ]),
  runtime: RuntimeOptionsSchema,
  retention: Type.Object({
    /** days after which execution-log rows are removed, 0 = keep (14) */
    logDays: Type.Number({ minimum: 0, default: 14 }),
    /** days after which consumed change-log rows are removed, 0 = keep (7) */
    changeLogDays: Type.Number({ minimum: 0, default: 7 }),
    /** days after its last failure after which a dead letter is removed, 0 = keep (30) */
    deadLetterDays: Type.Number({ minimum: 0, default: 30 }),
    /** days after which a log row's request_payload (kept for failed HTTP attempts) is emptied, 0 = keep (3) */
    requestPayloadDays: Type.Number({ minimum: 0, default: 3 })
  }, { additionalProperties: false, default: {} }),
  /** custom action handlers by action type ({}) */
  actions: Type.Record(Type.String(), Fn, { default: {} }),
  /** nodemailer SMTP transport options for email actions (none) */
  smtp: Type.Optional(Type.Object({}, { additionalProperties: true })),
  network: Type.Object({
    /** allow action URLs that resolve to loopback/private ranges (false) */
    allowPrivate: Type.Boolean({ default: false })
  }, { additionalProperties: false, default: {} }),
  /** (request) => tenant id or null: scopes the admin API to a tenant (none) */
  tenant: Type.Optional(Fn),
  /** the operator console at `<prefix>/console`: true (sign in with an admin token), { access } (the host decides), false (false) */
  console: Type.Union([Type.Boolean(), Type.Object({ access: Fn }, { additionalProperties: false })], { default: false })
}, { additionalProperties: false })

export type AuthFunction = (request: FastifyRequest) => boolean | Promise<boolean>
export type TenantResolver = (request: FastifyRequest) => string | null | Promise<string | null>
/** What the console's user may do: everything, look only, or not open it. */
export type ConsoleAccess = 'full' | 'read' | 'none'
export type ConsoleAccessHook = (request: FastifyRequest) => ConsoleAccess | Promise<ConsoleAccess>

type RawOptions = Static<typeof OptionsSchema>

/** What a host passes to `app.register(observerPlugin, options)`. */
export interface ObserverPluginOptions {
  connectionString?: string
  pool?: pg.Pool
  db?: Kysely<any>
  schema?: string
  migrate?: boolean
  prefix?: string
  routes?: boolean
  auth: false | { tokens: string[] } | AuthFunction
  runtime?: Partial<Omit<Static<typeof RuntimeOptionsSchema>, 'circuitBreaker'>> & { circuitBreaker?: false | Partial<Static<typeof CircuitBreakerSchema>> }
  retention?: { logDays?: number, changeLogDays?: number, deadLetterDays?: number, requestPayloadDays?: number }
  actions?: Record<string, CustomActionHandler>
  smtp?: Record<string, unknown>
  network?: { allowPrivate?: boolean }
  tenant?: TenantResolver
  console?: boolean | { access: ConsoleAccessHook }
}

export type RuntimeOptions = Readonly<Static<typeof RuntimeOptionsSchema>>

export interface ResolvedOptions {
  readonly connection: { kind: 'url', url: string } | { kind: 'pool', pool: pg.Pool } | { kind: 'db', db: Kysely<any> }
  readonly schema: string
  readonly migrate: boolean
  readonly prefix: string
  readonly routes: boolean
  readonly auth: false | { readonly tokens: readonly string[] } | AuthFunction
  readonly runtime: RuntimeOptions
  readonly retention: Readonly<{ logDays: number, changeLogDays: number, deadLetterDays: number, requestPayloadDays: number }>
  readonly actions: Readonly<Record<string, CustomActionHandler>>
  readonly smtp: Readonly<Record<string, unknown>> | undefined
  readonly network: Readonly<{ allowPrivate: boolean }>
  readonly tenant: TenantResolver | undefined
  /** false: no console; otherwise the host's access hook, or undefined when an admin token signs in */
  readonly console: false | { readonly access: ConsoleAccessHook | undefined }
}

function describeError (input: unknown): string {
  const { path, keyword, message } = schemaProblem(Value.Errors(OptionsSchema, input))
  const name = dotted(path)
  if (name === 'auth' || name.startsWith('auth.')) {
    return keyword === 'required'
      ? "'auth': required ({ tokens: [...] }, a function, or false when the host authenticates)"
      : "'auth': must be { tokens: [at least one string of 16+ characters] }, a function, or false"
  }
  if (keyword === 'additionalProperties') return `'${name}': unknown option`
  return `'${name}': ${message}`
}

/** Validates raw plugin options and returns the frozen, defaulted form. Throws InvalidOptionError. */
export function resolveOptions (input: ObserverPluginOptions): ResolvedOptions {
  if (input === null || typeof input !== 'object') throw new InvalidOptionError("'options': must be an object")
  const withDefaults = Value.Default(OptionsSchema, Value.Clone({ ...input, pool: undefined, db: undefined })) as RawOptions
  // a union's defaults apply only to a valid branch: default the breaker's fields first, so an error names the one wrong
  const breaker: unknown = withDefaults.runtime?.circuitBreaker
  if (breaker !== null && typeof breaker === 'object') Value.Default(CircuitBreakerSchema, breaker)
  if (!Value.Check(OptionsSchema, withDefaults)) throw new InvalidOptionError(describeError(withDefaults))
  for (const name of Object.keys(withDefaults.actions)) {
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new InvalidOptionError(`'actions.${name}': action names are lower-case letters, digits and _`)
  }
  const sources = (['connectionString', 'pool', 'db'] as const).filter((k) => input[k] !== undefined)
  if (sources.length !== 1) {
    throw new InvalidOptionError(sources.length === 0
      ? "'connectionString' | 'pool' | 'db': one is required"
      : `'${sources.join("', '")}': give only one of connectionString, pool and db`)
  }
  let connection: ResolvedOptions['connection']
  if (input.pool !== undefined) {
    if (typeof (input.pool as { query?: unknown }).query !== 'function' || typeof (input.pool as { connect?: unknown }).connect !== 'function') {
      throw new InvalidOptionError("'pool': must be a pg.Pool")
    }
    connection = { kind: 'pool', pool: input.pool }
  } else if (input.db !== undefined) {
    if (typeof (input.db as { selectFrom?: unknown }).selectFrom !== 'function') throw new InvalidOptionError("'db': must be a Kysely instance")
    connection = { kind: 'db', db: input.db }
  } else {
    connection = { kind: 'url', url: withDefaults.connectionString as string }
  }
  const auth = typeof input.auth === 'function' || input.auth === false
    ? input.auth
    : Object.freeze({ tokens: Object.freeze([...input.auth.tokens]) })
  return Object.freeze({
    connection,
    schema: withDefaults.schema,
    migrate: withDefaults.migrate,
    prefix: withDefaults.prefix === '/' ? '' : withDefaults.prefix.replace(/\/$/, ''),
    routes: withDefaults.routes,
    auth,
    runtime: Object.freeze(withDefaults.runtime),
    retention: Object.freeze(withDefaults.retention),
    actions: Object.freeze({ ...(input.actions ?? {}) }),
    smtp: input.smtp === undefined ? undefined : Object.freeze({ ...input.smtp }),
    network: Object.freeze(withDefaults.network),
    tenant: input.tenant,
    console: input.console === undefined || input.console === false
      ? false
      : Object.freeze({ access: input.console === true ? undefined : input.console.access })
  })
}
