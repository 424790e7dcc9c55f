// A claim on a stored delivery (a retry, a dead letter an operator retries) lasts `claimMs`, but its
// work may take longer: queued behind the concurrency bound, an endpoint's slots or its rate limit,
// then an attempt up to its action's own timeout (600 s at most). So while the work runs its claims
// are renewed every third of `claimMs`: a live worker never loses them, so no other instance takes
// the row and sends it again; a dead one stops renewing and its claims run out as before.
import { renewClaims, type HeldClaims } from '../../db/claim-renewal.repo.js'
import type { RuntimeContext } from '../context.js'
import type { StoredWork } from './run-stored.js'

/** Renews the token-held claims of `work` until the returned function is called. */
export function renewWhileRunning (ctx: Pick<RuntimeContext, 'db' | 'schema' | 'log'>, work: readonly StoredWork[], claimMs: number): () => void {
  const retries: Array<{ pk: string, token: string }> = []
  const deadLetters: Array<{ id: string, token: string }> = []
  for (const { claim } of work) {
    if (claim.from === 'retry') retries.push({ pk: claim.pk, token: claim.token })
    else if (claim.from === 'dead_letter' || claim.from === 'unreadable') deadLetters.push({ id: claim.id, token: claim.token })
  }
  if (retries.length === 0 && deadLetters.length === 0) return () => {}
  const claims: HeldClaims = { retries, deadLetters }
  let renewing = false
  const timer = setInterval(() => {
    // one renewal at a time: a slow database must not pile them up
    if (renewing) return
    renewing = true
    renewClaims(ctx.db, ctx.schema, claims, claimMs)
      .catch((err: unknown) => { ctx.log.warn({ err }, 'renewing claims on stored deliveries failed; trying again') })
      .finally(() => { renewing = false })
  }, Math.max(1, Math.floor(claimMs / 3)))
  timer.unref()
  return () => { clearInterval(timer) }
}
