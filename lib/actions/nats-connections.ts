// The `nats` action's connections: one per server set (and credentials), shared by every action
// that names it, reconnecting on its own, drained when the registry closes. The client is loaded on
// first use, so a process with no `nats` action does not carry it.
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { FastifyBaseLogger } from 'fastify'
import { classifyAddress, defaultResolver, SsrfBlockedError, type Resolver } from '../net/address-guard.js'
import { ActionConfigError, requireEnv } from './common.js'
import type { ServerSet } from './nats-config.js'

export interface NatsLink {
  nc: NatsConnection
  js: JetStreamClient
  /** an empty header set, as the client builds them */
  headers: () => MsgHdrs
  /** JetStream's API, made on first need (telling a missing stream from a missing responder) */
  manager: () => Promise<JetStreamManager>
}

/** How the connection authenticates: a token or a credentials file, each from a variable. */
export interface NatsAuth {
  credentials_env?: string
  token_env?: string
}

export interface NatsConnectionsOptions {
  /** `network.allowPrivate`: no address checks */
  allowPrivate: boolean
  env: Readonly<Record<string, string | undefined>>
  log: FastifyBaseLogger
  /** DNS resolution for the address guard (tests inject one) */
  resolve?: Resolver
  /** the longest a drain waits at close before the connection is closed outright (5000) */
  drainMs?: number
}

const CONNECT_TIMEOUT_MS = 10_000
const RECONNECT_WAIT_MS = 500

/**
 * The servers to dial. Without `allowPrivate`, every name is resolved and refused when any of its
 * addresses is private; plain `nats://` servers are then dialled at the checked addresses (no second,
 * rebinding answer), `tls://` ones by name, which their certificate must match.
 */
async function dialList (set: ServerSet, allowPrivate: boolean, resolve: Resolver): Promise<string[]> {
  if (allowPrivate) return set.servers
  const dial: string[] = []
  for (const { host, port, tls } of set.hosts) {
    const addresses = isIP(host) === 0 ? await resolve(host) : [{ address: host, family: isIP(host) }]
    for (const { address } of addresses) {
      const reason = classifyAddress(address)
      if (reason !== null) throw new SsrfBlockedError(`refused: ${host} resolves to ${address}, which is ${reason}`)
    }
    if (tls) dial.push(`tls://${host.includes(':') ? `[${host}]` : host}:${port}`)
    else for (const { address, family } of addresses) dial.push(`nats://${family === 6 ? `[${address}]` : address}:${port}`)
  }
  return dial
}

async function credentialsOf (env: NatsConnectionsOptions['env'], name: string): Promise<Uint8Array> {
  const value = requireEnv(env, name, 'credentials_env')
  // the file's text itself, or where it is
  if (value.includes('-----BEGIN')) return new TextEncoder().encode(value)
  try {
    return await readFile(value)
  } catch (err) {
    throw new ActionConfigError(`credentials file from ${name} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
}

export class NatsConnections {
  private readonly links = new Map<string, Promise<NatsLink>>()
  private closed = false

  constructor (private readonly options: NatsConnectionsOptions) {}

  /** The shared connection to `set`; connects on first use. Rejects when it cannot connect (then the next call tries again). */
  get (set: ServerSet, auth: NatsAuth): Promise<NatsLink> {
    const key = `${set.endpoint}|${auth.credentials_env ?? ''}|${auth.token_env ?? ''}`
    let link = this.links.get(key)
    if (link === undefined) {
      if (this.closed) return Promise.reject(new Error('the nats connections are closed'))
      link = this.connect(set, auth)
      this.links.set(key, link)
      const forget = (): void => { if (this.links.get(key) === link) this.links.delete(key) }
      // a connection that closes for good (credentials refused, say) is made again on next use
      link.then(({ nc }) => nc.closed().then(forget), forget)
    }
    return link
  }

  private async connect (set: ServerSet, auth: NatsAuth): Promise<NatsLink> {
    const { allowPrivate, env, log } = this.options
    const servers = await dialList(set, allowPrivate, this.options.resolve ?? defaultResolver)
    const nats = await import('@nats-io/transport-node')
    const { jetstream, jetstreamManager } = await import('@nats-io/jetstream')
    const authenticator = auth.credentials_env !== undefined
      ? nats.credsAuthenticator(await credentialsOf(env, auth.credentials_env))
      : undefined
    const token = auth.token_env === undefined ? undefined : requireEnv(env, auth.token_env, 'token_env')
    const nc = await nats.connect({
      servers,
      name: 'fastify-observers',
      timeout: CONNECT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
      // servers the cluster announces were not checked by the address guard
      ignoreClusterUpdates: !allowPrivate,
      resolve: allowPrivate,
      noAsyncTraces: true,
      ...(authenticator === undefined ? {} : { authenticator }),
      ...(token === undefined ? {} : { token })
    })
    if (this.closed) {
      await nc.close()
      throw new Error('the nats connections are closed')
    }
    this.watch(nc, set.endpoint, log)
    let manager: Promise<JetStreamManager> | undefined
    return { nc, js: jetstream(nc), headers: nats.headers, manager: () => (manager ??= jetstreamManager(nc, { checkAPI: false })) }
  }

  // status changes are worth a line each: an operator sees why deliveries wait
  private watch (nc: NatsConnection, endpoint: string, log: FastifyBaseLogger): void {
    const watching = async (): Promise<void> => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnect') log.info({ endpoint, status: status.type }, 'nats connection %s', status.type)
        else if (status.type === 'error') log.warn({ endpoint, err: status.error }, 'nats connection error')
      }
    }
    watching().catch(() => {})
  }

  /** Drains every connection (what is in flight gets its answer), closing those that take longer than `drainMs`. */
  async close (): Promise<void> {
    this.closed = true
    const links = [...this.links.values()]
    this.links.clear()
    await Promise.allSettled(links.map(async (link) => {
      const { nc } = await link
      if (nc.isClosed()) return
      const timer = setTimeout(() => { nc.close().catch(() => {}) }, this.options.drainMs ?? 5000)
      try {
        await nc.drain()
      } catch {
        await nc.close()
      } finally {
        clearTimeout(timer)
      }
    }))
  }
}
