// The observers this runtime matches against, and how fresh they are. Every statement that writes
// tb_observer bumps its version and stamps the rows it writes with it (migrations 002, 011); this
// instance records the version it has loaded. A change announced (NOTIFY, the admin API, the
// periodic check), or a batch read in a snapshot that saw a newer version, makes the runtime load
// the rows written since, and patch its index by id, before it plans that batch.
import type { FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import { loadLiveObservers, loadLiveVersions, loadObserversWrittenSince, readObserversVersions, type VersionedObserver } from '../../db/observer-reload.repo.js'
import type { Database } from '../../db/types.js'
import type { ActionConfig, Observer, ObserverEvent } from '../../model.js'
import { EndpointUsersIndex } from './endpoint-users-index.js'
import { ObserverIndex, type Matcher } from './matcher.js'

export interface ReloadReport {
  kind: 'full' | 'incremental'
  /** tb_observer rows read whole (a full load reads every row's version, and whole only the rows that changed) */
  rows: number
}

export interface LoadedObserversHooks {
  /** told when a condition throws while evaluated (no match for that event) */
  onEvaluationError?: (observer: Observer, event: ObserverEvent, err: unknown) => void
  /** which endpoint an action sends to (null: none), for `users` */
  endpointOf?: (action: ActionConfig) => string | null
  /** told after every load */
  onReloaded?: (report: ReloadReport) => void
}

const PAGE = 2000

export class LoadedObservers {
  private readonly index: ObserverIndex
  /** who sends to each endpoint, kept with the index */
  readonly users: EndpointUsersIndex
  /** tb_observer's version the index is up to date with; -1 before the first load */
  private version = -1n
  private stale = true
  /** loads run one after another, so an older load never replaces a newer one */
  private loading: Promise<unknown> = Promise.resolve()
  /** how many loaded observers have each timeout_ms */

  constructor (private readonly db: Kysely<Database>, log: FastifyBaseLogger, private readonly hooks: LoadedObserversHooks = {}) {
    this.index = new ObserverIndex({
      onInvalid: (observer, err) => log.error({ err, observer_id: observer.id }, 'observer skipped: its condition does not compile'),
      onEvaluationError: hooks.onEvaluationError
    })
    this.users = new EndpointUsersIndex(hooks.endpointOf ?? (() => null))
  }

  get matcher (): Matcher { return this.index }

  /** A change was announced (NOTIFY, the admin API, the periodic check): catch up before the next batch. */
  markStale (): void { this.stale = true }

  get needsReload (): boolean { return this.stale }

  /** Loads every observer afresh (after any load in progress); returns how many are loaded (enabled and live). */
  async reload (): Promise<number> {
    return await this.queue(async () => await this.loadAll())
  }

  /**
   * Catches up when stale, or when rows were read in a snapshot that saw a newer version than ours;
   * otherwise waits for a load another loop started, so no one plans with an older index.
   */
  async refresh (seenVersion?: string): Promise<void> {
    if (this.stale || (seenVersion !== undefined && BigInt(seenVersion) > this.version)) await this.catchUp()
    else await this.loading
  }

  /** Loads what was written since the version held (everything, the first time); returns the rows read. */
  async catchUp (): Promise<number> {
    return await this.queue(async () => await this.loadChanges())
  }

  private async queue (load: () => Promise<number>): Promise<number> {
    this.stale = false
    const next = this.loading.then(load)
    this.loading = next.catch(() => { this.stale = true })
    return await next
  }

  private async loadAll (): Promise<number> {
    // the version first: a change committed in between makes the next batch catch up again
    const { version } = await readObserversVersions(this.db)
    // which rows changed, from their versions; only those are read whole (all of them, the first time)
    const live = await loadLiveVersions(this.db, PAGE * 5)
    const kept: VersionedObserver[] = []
    const stale: string[] = []
    for (const { id, version } of live) {
      const observer = this.index.versionOf(id) === version ? this.index.get(id) : undefined
      if (observer !== undefined) kept.push({ observer, version })
      else stale.push(id)
    }
    const everything = stale.length > live.length / 2
    const fresh = await loadLiveObservers(this.db, PAGE, everything ? undefined : stale)
    // read in pages, unchanged rows keep the object already loaded (the index then leaves them be)
    const loaded = everything ? fresh.map((f) => this.index.versionOf(f.observer.id) === f.version ? { ...f, observer: this.index.get(f.observer.id) ?? f.observer } : f) : [...kept, ...fresh]
    this.patch(loaded, [], true)
    this.advance(BigInt(version))
    this.hooks.onReloaded?.({ kind: 'full', rows: fresh.length })
    return this.index.size
  }

  private async loadChanges (): Promise<number> {
    const { version, fullSince } = await readObserversVersions(this.db)
    // a row deleted outright leaves no trace to read: only a full load can drop it
    if (this.version < 0n || BigInt(fullSince) > this.version) {
      await this.loadAll()
      return this.index.size
    }
    if (BigInt(version) <= this.version) return 0
    const written = await loadObserversWrittenSince(this.db, this.version.toString(), PAGE)
    // rows read twice (written after `version` was read) change nothing the second time
    this.patch(written.filter(({ observer, version }) => this.index.versionOf(observer.id) !== version), [])
    this.advance(BigInt(version))
    this.hooks.onReloaded?.({ kind: 'incremental', rows: written.length })
    return written.length
  }

  /** One synchronous step: the index and the endpoint users change together. */
  private patch (upserts: readonly VersionedObserver[], removals: readonly string[], replaceAll = false): void {
    const before = new Map<string, Observer>()
    const note = (id: string): void => {
      const old = this.index.get(id)
      if (old !== undefined) before.set(id, old)
    }
    if (replaceAll) for (const observer of this.index.observers()) before.set(observer.id, observer)
    else for (const { observer } of upserts) note(observer.id)
    for (const id of removals) note(id)
    this.index.apply(upserts, removals, replaceAll)
    for (const [id, old] of before) {
      if (this.index.get(id) === old) continue
      this.users.remove(old)
    }
    for (const { observer } of upserts) {
      if (before.get(observer.id) === observer || this.index.get(observer.id) !== observer) continue
      this.users.add(observer)
    }
  }

  private advance (version: bigint): void {
    if (version > this.version) this.version = version
  }

  get (id: string): Observer | undefined { return this.index.get(id) }
}
