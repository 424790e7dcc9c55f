// The circuit's failure window as every instance shares it (SPEC 9.3: one window per endpoint).
// Attempts are counted here without a query and added to PostgreSQL about once a second (the
// endpoint worker's round, lib/db/endpoint-window.repo.ts), which answers with the totals over
// every instance. Each count carries the circuit's generation: a close starts a new one, and
// counts of an older one are dropped here and in the database.
import type { Kysely } from 'kysely'
import { addWindowCounts, windowTotals, type WindowCount } from '../../db/endpoint-window.repo.js'
import type { Database } from '../../db/types.js'

export interface Counts { attempts: number, failures: number }

const BUCKETS = 60

export class SharedWindows {
  /** counted here, not yet added; and those being added */
  private pending = new Map<string, WindowCount>()
  private adding = new Map<string, WindowCount>()
  /** the flush under way: the next one starts after it */
  private flushing: Promise<unknown> = Promise.resolve()
  /** every instance's totals, as the last round read them */
  private readonly shared = new Map<string, WindowCount>()
  private readonly bucketMs: number
  private readonly buckets: number

  constructor (private readonly db: Kysely<Database>, windowMs: number) {
    this.bucketMs = Math.max(1, Math.floor(windowMs / BUCKETS))
    this.buckets = Math.ceil(windowMs / this.bucketMs)
  }

  /** Counts one attempt, in the circuit's `generation`. */
  record (endpoint: string, generation: number, failed: boolean): void {
    let count = this.pending.get(endpoint)
    if (count === undefined || count.generation !== generation) this.pending.set(endpoint, count = { endpoint, generation, attempts: 0, failures: 0 })
    count.attempts++
    if (failed) count.failures++
  }

  /** The endpoint's window as known here: every instance's totals at the last round, and what this one counted since. */
  counts (endpoint: string, generation: number): Counts {
    let attempts = 0
    let failures = 0
    for (const known of [this.shared.get(endpoint), this.adding.get(endpoint), this.pending.get(endpoint)]) {
      if (known === undefined || known.generation !== generation) continue
      attempts += known.attempts
      failures += known.failures
    }
    return { attempts, failures }
  }

  /** The circuit closed: what was counted here before is void. */
  forget (endpoint: string): void {
    this.pending.delete(endpoint)
    this.adding.delete(endpoint)
    this.shared.delete(endpoint)
  }

  /**
   * Adds what was counted here since the last round; returns every instance's totals for those
   * endpoints. One flush at a time: one that comes while another adds waits for it, so the totals
   * read after it include what was being added.
   */
  async flush (): Promise<WindowCount[]> {
    const flushed = this.flushing.then(async () => await this.add())
    this.flushing = flushed.catch(() => {})
    return await flushed
  }

  private async add (): Promise<WindowCount[]> {
    if (this.pending.size === 0) return []
    this.adding = this.pending
    this.pending = new Map()
    try {
      await addWindowCounts(this.db, [...this.adding.values()], this.bucketMs, this.buckets)
      const totals = await windowTotals(this.db, this.bucketMs, this.buckets, [...this.adding.keys()])
      for (const endpoint of this.adding.keys()) this.shared.delete(endpoint)
      for (const total of totals) this.shared.set(total.endpoint, total)
      return totals
    } finally {
      this.adding = new Map()
    }
  }

  /** Every endpoint's totals over every instance, read now. */
  async totals (): Promise<Map<string, Counts>> {
    return new Map((await windowTotals(this.db, this.bucketMs, this.buckets)).map((t) => [t.endpoint, t]))
  }
}
