// The observers this runtime matches against, and how fresh they are. Any change to tb_observer
// bumps its version (migration 002); a reload records the version it read, so a batch read in a
// snapshot that saw a newer version makes the runtime reload before planning it.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import { readObserversVersion } from '../../db/change-log.repo.js'
import { loadActiveObservers } from '../../db/observers.repo.js'
import type { Database } from '../../db/types.js'
import type { Observer, ObserverEvent } from '../../model.js'
import { buildMatcher, type Matcher } from './matcher.js'

export class LoadedObservers {
  matcher: Matcher = buildMatcher([])
  private byId = new Map<string, Observer>()
  /** tb_observer's version the matcher was built from; -1 before the first load */
  private version = -1n
  private stale = true
  /** reloads run one after another, so an older load never replaces a newer one */
  private loading: Promise<unknown> = Promise.resolve()

  constructor (
    private readonly db: Kysely<Database>,
    private readonly log: FastifyBaseLogger,
    /** told when a condition throws while evaluated (no match for that event) */
    private readonly onEvaluationError: (observer: Observer, event: ObserverEvent, err: unknown) => void,
    /** told after every load, with the observers loaded */
    private readonly onLoaded: (observers: readonly Observer[]) => void = () => {}
  ) {}

  /** A change was announced (NOTIFY, the admin API, the periodic reload): reload before the next batch. */
  markStale (): void { this.stale = true }

  get needsReload (): boolean { return this.stale }

  /** Reloads now (after any reload in progress); returns how many observers are loaded (enabled and live). */
  async reload (): Promise<number> {
    this.stale = false
    const next = this.loading.then(async () => await this.load())
    this.loading = next.catch(() => { this.stale = true })
    return await next
  }

  private async load (): Promise<number> {
    // the version first: a change committed in between makes the next batch reload again
    const version = BigInt(await readObserversVersion(this.db))
    const observers = await loadActiveObservers(this.db)
    this.matcher = buildMatcher(observers, {
      onInvalid: (observer, err) => this.log.error({ err, observer_id: observer.id }, 'observer skipped: its condition does not compile'),
      onEvaluationError: this.onEvaluationError
    })
    this.byId = new Map(observers.map((o) => [o.id, o]))
    this.onLoaded(observers)
    if (version > this.version) this.version = version
    return this.matcher.size
  }

  /**
   * Reloads when stale, or when rows were read in a snapshot that saw a newer version than ours;
   * otherwise waits for a reload another loop started, so no one plans with an older matcher.
   */
  async refresh (seenVersion?: string): Promise<void> {
    if (this.stale || (seenVersion !== undefined && BigInt(seenVersion) > this.version)) await this.reload()
    else await this.loading
  }

  get (id: string): Observer | undefined { return this.byId.get(id) }

  /** The longest attempt any loaded observer may take (claims on stored deliveries outlast it). */
  longestTimeoutMs (floor: number): number {
    let longest = floor
    for (const observer of this.byId.values()) longest = Math.max(longest, observer.timeout_ms)
    return longest
  }
}
