// Runs retries that fell due. Any instance may: a claim keeps two from running the same one.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { claimDueRetries, nextRetryDue } from '../../db/retry.repo.js'
import { recordError, type RuntimeContext } from '../context.js'
import type { Waker } from '../primitives/waker.js'
import { CLAIM_MS } from '../delivery/executor.js'
import { loadStored } from './load-stored.js'
import { runStored } from './run-stored.js'

/** Claims (for `claimFor` ms, renewed while they run) and runs one round of due retries; returns how many ran. */
export async function runDueRetries (ctx: RuntimeContext, claimFor = CLAIM_MS): Promise<number> {
  const token = randomUUID()
  const rows = await claimDueRetries(ctx.db, ctx.options.runtime.batchSize, claimFor, token)
  if (rows.length === 0) return 0
  await runStored(ctx, await loadStored(ctx, rows.map((row) => ({
    claim: { from: 'retry', pk: String(row.pk_observer_retry), token },
    observer_id: row.observer_id,
    action_index: row.action_index,
    event: row.event,
    attempt: row.attempt_number,
    first_failed_at: new Date(row.first_failed_at)
  }))), { claimMs: claimFor })
  return rows.length
}

/** Runs due retries until `signal` aborts, sleeping until the next one is due (or a wake-up). */
export async function retryLoop (ctx: RuntimeContext, waker: Waker, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      await ctx.observers.refresh()
      if (await runDueRetries(ctx) > 0) continue
      const due = await nextRetryDue(ctx.db)
      await waker.sleep(due === null ? 1000 : Math.max(0, Math.min(1000, due.getTime() - Date.now())), signal)
    } catch (err) {
      recordError(ctx, err, {}, 'running due retries failed; retrying')
      await sleep(1000, undefined, { signal, ref: false }).catch(() => {})
    }
  }
}
