// This instance's copy of the endpoints' shared state (tb_observer_endpoint): reloaded when an
// instance announces a change, and changed here first by this instance's own decisions, which a
// reload begun before them, or a write not done yet, must not undo.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import { loadEndpoints, type EndpointRow } from '../../db/endpoints.repo.js'
import type { Database } from '../../db/types.js'

export class EndpointStates {
  private states = new Map<string, EndpointRow>()
  /** local changes, numbered, so a refresh read before one does not undo it; and the writes not done yet */
  private changes = 0
  private readonly changedAt = new Map<string, number>()
  private readonly writing = new Map<string, number>()
  /** read once: until then nothing may go, an open circuit would not be known */
  loaded = false
  private loading: Promise<void> | undefined

  constructor (private readonly db: Kysely<Database>, private readonly log: FastifyBaseLogger) {}

  get (endpoint: string): EndpointRow | undefined { return this.states.get(endpoint) }

  keys (): IterableIterator<string> { return this.states.keys() }

  values (): IterableIterator<EndpointRow> { return this.states.values() }

  delete (endpoint: string): void { this.states.delete(endpoint) }

  /** Reloads the shared state (at start, on an announced change, periodically). */
  async refresh (): Promise<void> {
    const since = this.changes
    const next = new Map((await loadEndpoints(this.db)).map((s) => [s.endpoint, s]))
    // what this instance decided after the read began, or has not written yet, is newer than the read
    for (const [endpoint, at] of this.changedAt) {
      if (at <= since && (this.writing.get(endpoint) ?? 0) === 0) continue
      const local = this.states.get(endpoint)
      if (local === undefined) next.delete(endpoint)
      else next.set(endpoint, local)
    }
    this.states = next
    this.loaded = true
  }

  /** The first read (whichever comes first: this, or the endpoint worker's round). */
  async load (): Promise<void> {
    this.loading ??= this.refresh().finally(() => { this.loading = undefined })
    await this.loading
  }

  /** A decision of this instance, known here before it is written. */
  remember (endpoint: string, change: (state: EndpointRow) => EndpointRow): void {
    this.changedAt.set(endpoint, ++this.changes)
    const current = this.states.get(endpoint) ?? { endpoint, state: 'closed', opened_at: null, next_probe_at: null, cool_down_ms: 0, paused_until: null, generation: 0 }
    this.states.set(endpoint, change(current))
  }

  /** Writes a decision without waiting for it; until it is done, a refresh keeps this instance's view. */
  background (work: Promise<unknown>, endpoint: string, what: string): void {
    this.writing.set(endpoint, (this.writing.get(endpoint) ?? 0) + 1)
    work.catch((err: unknown) => { this.log.error({ err, endpoint }, `${what} the endpoint's circuit failed`) })
      .finally(() => { this.writing.set(endpoint, (this.writing.get(endpoint) ?? 1) - 1) })
  }
}
