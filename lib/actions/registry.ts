// The built-in actions plus the custom ones from `options.actions`, behind one lookup. Validation of
// an observer's actions, redaction for the API and the dry run all go through here.
import { Compile } from 'typebox/compile'
import type { Validator } from 'typebox/compile'
import { ActionHandlerError, ActionNameTakenError, UnknownActionTypeError } from '../errors.js'
import type { ActionConfig, EventEnvelope } from '../model.js'
import type { ActionContext, ActionDefinition, ActionOutcome, ActionServices, CustomActionHandler, RenderedRequest } from './types.js'
import { createHttpClient } from './http-client.js'
import type { HttpClient } from './http-client.js'
import { createWebhookAction } from './webhook.js'
import { createSlackAction } from './slack.js'
import { createEmailAction } from './email.js'
import { databaseAction } from './database.js'
import { logAction } from './log.js'
import { createNatsAction } from './nats.js'
import type { Resolver } from '../net/address-guard.js'
import { schemaProblem } from '../schema-errors.js'
import { createCustomAction } from './custom.js'

export const BUILT_IN_ACTION_TYPES = ['webhook', 'slack', 'email', 'database', 'log', 'nats'] as const

export interface ActionRegistry {
  /** The services every action of this registry runs with. */
  readonly services: ActionServices
  /** The definition of a built-in or custom action type, or undefined. */
  get: (type: string) => ActionDefinition<any> | undefined
  /** Every known type, built-ins first. */
  types: () => string[]
  /**
   * Save-time validation of `observer.actions[index]`: null when valid, else one message naming the
   * field, e.g. `actions/0/url: must be a URL`.
   */
  validate: (action: unknown, index: number) => string | null
  /**
   * Runs one attempt; never throws nor rejects. A config that fails save-time validation (edited in
   * the table directly, or a custom action removed since) is a permanent CONFIG failure.
   */
  run: (event: EventEnvelope, action: ActionConfig, ctx: ActionContext) => Promise<ActionOutcome>
  /** The endpoint the action sends to (an HTTP origin, a NATS server set), or null (none, or not known). Kept per action object. */
  endpointOf: (action: ActionConfig) => string | null
  /** The action as the API may show it, secrets replaced by REDACTED. */
  redact: (action: ActionConfig) => ActionConfig
  /** Dry run: the request the action would make, secrets redacted; sends nothing. */
  render: (event: EventEnvelope, action: ActionConfig, ctx: Omit<ActionContext, 'signal' | 'attempt' | 'services'>) => Promise<RenderedRequest>
  /** Closes the shared HTTP agent, the SMTP pool and drains the NATS connections. */
  close: () => Promise<void>
}

export interface ActionRegistryOptions {
  /** Use this HTTP client instead of one built from `services` (tests inject a DNS resolver this way). */
  http?: HttpClient
  /** DNS resolution for the `nats` action's address guard (tests inject one) */
  resolve?: Resolver
}

// A check() problem that starts with a field path (`url: ...`, `headers/x: ...`) is placed under it.
const FIELD_PROBLEM = /^[A-Za-z0-9_][A-Za-z0-9_/.-]*: /

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Built-ins: webhook, slack, email, database, log, nats. `custom` adds more; a custom name equal to a
 * built-in one throws, so an option can never silently replace, say, the SSRF-guarded webhook.
 */
export function createActionRegistry (
  services: ActionServices,
  custom: Record<string, CustomActionHandler>,
  options: ActionRegistryOptions = {}
): ActionRegistry {
  // checked before the HTTP client exists, so a refused name leaves nothing open
  for (const [name, handler] of Object.entries(custom)) {
    if ((BUILT_IN_ACTION_TYPES as readonly string[]).includes(name)) throw new ActionNameTakenError(name)
    if (typeof handler !== 'function') throw new ActionHandlerError(name)
  }
  const http = options.http ?? createHttpClient({ allowPrivate: services.allowPrivate })
  const definitions = new Map<string, ActionDefinition<any>>()
  for (const definition of [createWebhookAction(http), createSlackAction(http), createEmailAction(), databaseAction, logAction, createNatsAction(services, { resolve: options.resolve })]) {
    definitions.set(definition.type, definition)
  }
  for (const [name, handler] of Object.entries(custom)) definitions.set(name, createCustomAction(name, handler))
  const validators = new Map<string, Validator>()
  for (const [type, definition] of definitions) validators.set(type, Compile(definition.schema))

  // run() validates before every attempt; an observer's action objects are loaded once and never
  // mutated, so the verdict is kept per object (a reload brings new objects).
  const verdicts = new WeakMap<object, string | null>()

  // null, or a problem relative to the action: `/field: message` or `: message`.
  function problemOf (action: Record<string, unknown>): string | null {
    if (typeof action.type !== 'string') return '/type: must be a string'
    const definition = definitions.get(action.type)
    if (definition === undefined) return `/type: unknown action type '${action.type}'`
    const validator = validators.get(action.type) as Validator
    if (!validator.Check(action)) {
      const { path, message } = schemaProblem(validator.Errors(action))
      return `${path}: ${message}`
    }
    const problem = definition.check?.(action as ActionConfig, services) ?? null
    if (problem === null) return null
    return FIELD_PROBLEM.test(problem) ? `/${problem}` : `: ${problem}`
  }

  function verdictOf (action: Record<string, unknown>): string | null {
    let problem = verdicts.get(action)
    if (problem === undefined) {
      problem = problemOf(action)
      verdicts.set(action, problem)
    }
    return problem
  }

  function validate (action: unknown, index: number): string | null {
    if (!isObject(action)) return `actions/${index}: must be an object`
    const problem = verdictOf(action)
    return problem === null ? null : `actions/${index}${problem}`
  }

  function definitionOf (action: ActionConfig): ActionDefinition<any> {
    const definition = definitions.get(action.type)
    if (definition === undefined) throw new UnknownActionTypeError(action.type)
    return definition
  }

  const endpoints = new WeakMap<object, string | null>()
  function endpointOf (action: ActionConfig): string | null {
    let endpoint = endpoints.get(action)
    if (endpoint === undefined) {
      endpoint = definitions.get(action.type)?.endpoint?.(action, services) ?? null
      endpoints.set(action, endpoint)
    }
    return endpoint
  }

  const permanent = (message: string): Promise<ActionOutcome> => Promise.resolve({ ok: false, kind: 'permanent', code: 'CONFIG', message })
  // Built-ins classify their own failures; reaching here is a bug, and retrying is the safe side.
  const internal = (err: unknown): ActionOutcome => ({ ok: false, kind: 'transient', code: 'INTERNAL', message: (err as Error)?.message ?? String(err) })

  // not async: this runs once per delivery, and each async layer is a promise more
  function run (event: EventEnvelope, action: ActionConfig, ctx: ActionContext): Promise<ActionOutcome> {
    const definition = definitions.get(action.type)
    if (definition === undefined) return permanent(`unknown action type '${action.type}'`)
    const problem = verdictOf(action)
    if (problem !== null) return permanent(`invalid ${action.type} config: ${problem.replace(/^\/|^: /, '')}`)
    try {
      return definition.run(event, action, ctx).catch(internal)
    } catch (err) {
      return Promise.resolve(internal(err))
    }
  }

  return {
    services,
    get: (type) => definitions.get(type),
    types: () => [...definitions.keys()],
    validate,
    run,
    endpointOf,
    redact: (action) => definitionOf(action).redact(action),
    render: async (event, action, ctx) => await definitionOf(action).render(event, action, { ...ctx, services }),
    async close () {
      // An injected client belongs to whoever made it.
      const ownHttp = options.http === undefined ? [http.close()] : []
      await Promise.allSettled([...ownHttp, ...[...definitions.values()].map(async (d) => await d.close?.())])
    }
  }
}
