// Waiting for a re-split (the admin route): it polls the listener's state, and switches the count
// itself once every partition has reached the barrier (any instance may: the first one does, under
// the old partitions' locks; lib/db/resplit.repo.ts).
import { setTimeout as sleep } from 'node:timers/promises'
import type { Kysely } from 'kysely'
import { listenerState, switchPartitions, type ListenerState } from '../../db/resplit.repo.js'
import type { Database } from '../../db/types.js'

/** How often the wait looks again: the partitions reach the barrier within a few batches. */
const RESPLIT_POLL_MS = 100

/** The listener's state once no re-split is under way, or as it stands after `waitMs`; undefined for an unknown listener. */
export async function awaitResplit (db: Kysely<Database>, schema: string, listenerId: string, waitMs: number): Promise<ListenerState | undefined> {
  const until = Date.now() + waitMs
  for (;;) {
    const state = await listenerState(db, schema, listenerId)
    if (state?.resplit == null) return state
    if (state.resplit.at_barrier.length === state.partitions && (await switchPartitions(db, schema, listenerId)).switched) continue
    const left = until - Date.now()
    if (left <= 0) return state
    await sleep(Math.min(RESPLIT_POLL_MS, left), undefined, { ref: false })
  }
}
