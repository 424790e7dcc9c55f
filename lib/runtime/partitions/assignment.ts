// Who reads which partition: each instance decides for itself, from what PostgreSQL shows every
// instance (the live ones, and each partition's holder). No instance holds more than its fair
// share, ceil(partitions / live instances); only the partitions that must move are moved: an
// instance over its share gives up its highest ones, one under it takes free ones, its own first
// (a restart with the same instance id finds its partitions still recorded as its own).
import type { PartitionRow } from '../../db/partitions.repo.js'

export interface AssignmentInput {
  count: number
  me: string
  /** instances heard from within the lease (this one included) */
  live: readonly string[]
  rows: readonly PartitionRow[]
  /** partitions this instance reads (holds the lock of) */
  holding: ReadonlySet<number>
  /** partitions this instance is trying to take (a loop started, the lock not yet held) */
  trying: ReadonlySet<number>
}

export interface Assignment {
  share: number
  /** held partitions to hand over: drain, commit, release */
  release: number[]
  /** attempts to give up: the partition is someone else's now */
  stop: number[]
  /** partitions to start taking */
  take: number[]
  /** sessions of silent holders that still hold a lock this instance is taking (a paused process) */
  endSessions: Array<{ partition: number, pid: number }>
}

export function assign ({ count, me, live, rows, holding, trying }: AssignmentInput): Assignment {
  const alive = new Set(live)
  alive.add(me)
  const share = Math.ceil(count / alive.size)
  const release = [...holding].sort((a, b) => b - a).slice(0, Math.max(0, holding.size - share))
  const free = (row: PartitionRow): boolean => row.holder === null || row.holder === me || !alive.has(row.holder)
  let wanted = Math.max(0, share - holding.size)
  const stop: number[] = []
  const kept: number[] = []
  for (const partition of [...trying].sort((a, b) => a - b)) {
    const row = rows.find((r) => r.partition === partition)
    if (row !== undefined && free(row) && wanted > 0) {
      kept.push(partition)
      wanted--
    } else stop.push(partition)
  }
  const take = rows
    .filter((r) => free(r) && !holding.has(r.partition) && !trying.has(r.partition))
    .sort((a, b) => Number(b.holder === me) - Number(a.holder === me) || a.partition - b.partition)
    .slice(0, wanted)
    .map((r) => r.partition)
  const taking = new Set([...kept, ...take])
  const endSessions = rows
    .filter((r) => taking.has(r.partition) && r.holder !== null && r.holder !== me && !alive.has(r.holder) && r.session_pid !== null)
    .map((r) => ({ partition: r.partition, pid: r.session_pid as number }))
  return { share, release, stop, take, endSessions }
}
