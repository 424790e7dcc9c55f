// `nats`: publish the event (the envelope a webhook gets, as JSON) to NATS JetStream and wait for the
// stream's acknowledgement. `Nats-Msg-Id` is the delivery's idempotency key, so a retry or a replay
// within the stream's duplicate window is stored once. The endpoint is the server set.
import type { Span } from '@opentelemetry/api'
import type { EventEnvelope } from '../model.js'
import type { ActionContext, ActionDefinition, ActionOutcome, ActionServices, RenderedRequest } from './types.js'
import { REDACTED } from './types.js'
import type { Resolver } from '../net/address-guard.js'
import { boundedText, configFailure } from './common.js'
import { checkNats, messageHeaders, NatsConfigSchema, redactNats, refusedHost, serverSetOf, subjectOf, type NatsConfig, type ServerSet } from './nats-config.js'
import { NatsConnections, type NatsLink } from './nats-connections.js'
import { classifyNatsError, isNoResponders, noStream } from './nats-outcome.js'
import { endPublishSpan, tracePublish } from '../tracing/messaging-span.js'

type Failure = Extract<ActionOutcome, { ok: false }>

interface Message {
  set: ServerSet
  subject: string
  headers: Record<string, string>
  body: string
}

function prepare (event: EventEnvelope, config: NatsConfig, ctx: Pick<ActionContext, 'idempotencyKey' | 'services'>, dryRun: boolean): Message {
  const set = serverSetOf(config, ctx.services.env)
  return { set, subject: subjectOf(config, event), headers: messageHeaders(event, config, ctx.idempotencyKey, dryRun), body: JSON.stringify(event) }
}

function renderNats (event: EventEnvelope, config: NatsConfig, ctx: Omit<ActionContext, 'signal' | 'attempt'>): RenderedRequest {
  let url: string | null = null
  try {
    url = serverSetOf(config, ctx.services.env).endpoint
  } catch {
    // an unset servers variable: the dry run shows no server set
  }
  const headers = messageHeaders(event, config, ctx.idempotencyKey, true)
  return { method: 'PUBLISH', url, subject: subjectOf(config, event), headers, body: event }
}

/** The failed attempt's message for the execution log: configured header values redacted, the body bounded. */
function sent (message: Message, config: NatsConfig): Failure['request'] {
  const headers = { ...message.headers }
  for (const name of Object.keys(config.headers ?? {})) headers[name] = REDACTED
  return { method: 'PUBLISH', url: message.set.endpoint, subject: message.subject, headers, body: boundedText(message.body), body_bytes: Buffer.byteLength(message.body) }
}

const CANCELLED: Failure = { ok: false, kind: 'transient', code: 'CANCELLED', message: 'cancelled' }
const timedOut = (ms: number): Failure => ({ ok: false, kind: 'transient', code: 'TIMEOUT', message: `no acknowledgement within ${ms} ms`, timedOut: true })

/**
 * `work`'s outcome, or TIMEOUT/CANCELLED as soon as the attempt is cancelled (the runtime's
 * cancellation, else `ctx.signal` and a timer of our own). A publish left running may still be
 * stored: its retry carries the same `Nats-Msg-Id`, which the stream deduplicates.
 */
function untilCancelled (work: Promise<ActionOutcome>, ctx: ActionContext, timeoutMs: number): Promise<ActionOutcome> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined
    const finish = (outcome: ActionOutcome): void => {
      if (timer !== undefined) clearTimeout(timer)
      ctx.cancellation?.listen(undefined)
      if (ctx.cancellation === undefined) ctx.signal.removeEventListener('abort', onAbort)
      resolve(outcome)
    }
    const onCancel = (reason: Error): void => { finish(reason.name === 'TimeoutError' ? timedOut(timeoutMs) : CANCELLED) }
    const onAbort = (): void => { onCancel(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('cancelled')) }
    if (ctx.cancellation !== undefined) ctx.cancellation.listen(onCancel)
    else {
      timer = setTimeout(() => { finish(timedOut(timeoutMs)) }, timeoutMs)
      if (ctx.signal.aborted) onAbort()
      else ctx.signal.addEventListener('abort', onAbort, { once: true })
    }
    work.then(finish, (err: unknown) => { finish(classifyNatsError(err)) })
  })
}

// No responders: either no stream captures the subject (final), or JetStream is not answering now.
async function whyNoResponders (link: NatsLink, subject: string): Promise<Failure> {
  try {
    await (await link.manager()).streams.find(subject)
  } catch (err) {
    if ((err as Error).name === 'StreamNotFoundError') return noStream(subject)
  }
  return classifyNatsError(Object.assign(new Error('no responders'), { name: 'NoResponders' }))
}

export interface NatsActionOptions {
  /** DNS resolution for the address guard (tests inject one) */
  resolve?: Resolver
}

export function createNatsAction (services: ActionServices, options: NatsActionOptions = {}): ActionDefinition<NatsConfig> {
  const connections = new NatsConnections({ allowPrivate: services.allowPrivate, env: services.env, log: services.log, resolve: options.resolve })

  async function publish (message: Message, config: NatsConfig, timeoutMs: number): Promise<ActionOutcome> {
    const link = await connections.get(message.set, config)
    const headers = link.headers()
    for (const [name, value] of Object.entries(message.headers)) headers.set(name, value)
    try {
      // the ack is the stream's word that the message is stored; nothing less counts as delivered
      const ack = await link.js.publish(message.subject, message.body, { headers, timeout: timeoutMs })
      return { ok: true, response: `stream ${ack.stream} seq ${ack.seq}${ack.duplicate ? ' duplicate' : ''}` }
    } catch (err) {
      return isNoResponders(err) ? await whyNoResponders(link, message.subject) : classifyNatsError(err)
    }
  }

  return {
    type: 'nats',
    schema: NatsConfigSchema,
    check: checkNats,
    run (event, config, ctx) {
      let message: Message
      try {
        message = prepare(event, config, ctx, false)
        // a set from a variable is checked when it is read
        const refused = config.servers_env === undefined || ctx.services.allowPrivate ? null : refusedHost(message.set)
        if (refused !== null) return Promise.resolve({ ok: false, kind: 'permanent', code: 'SSRF_BLOCKED', message: refused })
      } catch (err) {
        return Promise.resolve(err).then(configFailure)
      }
      const timeoutMs = config.timeout_ms ?? ctx.timeoutMs
      let span: Span | undefined
      if (ctx.trace !== undefined) {
        const { host, port } = message.set.hosts[0]
        span = tracePublish(ctx.trace, ctx.attempt - 1, {
          system: 'nats', destination: message.subject, messageId: ctx.idempotencyKey, address: host, port, bodySize: Buffer.byteLength(message.body)
        }, message.headers)
      }
      return untilCancelled(publish(message, config, timeoutMs), ctx, timeoutMs).then((outcome): ActionOutcome => {
        if (span !== undefined) endPublishSpan(span, outcome.ok ? undefined : outcome.code)
        return outcome.ok ? outcome : { ...outcome, request: sent(message, config) }
      })
    },
    endpoint (config, services) {
      try {
        return serverSetOf(config, services.env).endpoint
      } catch {
        return null
      }
    },
    render: renderNats,
    redact: redactNats,
    close: async () => { await connections.close() }
  }
}
