// Where this instance's readers have committed their streams, and a wait for the next commit: a
// backfill paces itself by the reader (jobs/backfill.ts) without asking the database every few
// milliseconds when the reader runs in the same process.
import type { Position } from '../../db/change-log.repo.js'
import { after } from './reading.js'

export class ReaderProgress {
  private readonly committed = new Map<string, Position>()
  private readonly waiters = new Set<() => void>()
  /** whether this instance reads the listener's whole stream now (set by the runtime once its streams exist) */
  readsWholeStream: () => boolean = () => false

  /** A commit moved the stream's checkpoint to `to`. */
  moved (streamId: string, to: Position): void {
    this.committed.set(streamId, to)
    for (const wake of this.waiters) wake()
  }

  /** Whether this instance last committed the stream at or past `position`. */
  reached (streamId: string, position: Position): boolean {
    const at = this.committed.get(streamId)
    return at !== undefined && !after(position, at)
  }

  /** Resolves at the next commit of any stream here, or after `ms`. */
  async next (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      this.waiters.add(done)
    })
  }
}
