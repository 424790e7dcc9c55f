// The one path for a delivery stored in a table and run again: a retry that fell due, an
// operator's retry of a dead letter, an unreadable change read again, a parked event released,
// and an attempt the read path handed over. Each loader claims its rows and says what they run
// (load-stored.ts builds most of them); here they run through the executor like any delivery,
// are settled, and are committed in one transaction with the end of their claims.
import { commitStoredWork, type ClaimEnd, type LeaseFence } from '../../db/stored.repo.js'
import type { AttemptLog, DeadLetterToWrite, Settlement } from '../../model.js'
import { warnDeadLetters, type RuntimeContext } from '../context.js'
import type { AttemptResult } from '../delivery/attempt.js'
import type { Delivery } from '../delivery/delivery.js'
import { emptySettlement, firstDue, settle } from '../delivery/settling.js'
import { settleGroups, stateOf, type OrderedGroup } from '../read-path/ordering.js'
import { renewWhileRunning } from './claim-renewal.js'

/** What a stored delivery was claimed from (and the claim's token): how its claim ends once it ran. */
export type Claim =
  /** a retry row: removed (a failure is scheduled again under the same key) */
  | { from: 'retry', pk: string, token: string }
  /** a dead letter of one action: removed when delivered, else kept with its claim ended */
  | { from: 'dead_letter', id: string, token: string }
  /** a dead letter of a whole change that could not be read: removed once it reads */
  | { from: 'unreadable', id: string, token: string }
  /** a parked event of an ordered key (released under the lease): removed, its group holding or freeing the key */
  | { from: 'parked', pk: string }
  /** a retry row that claims an attempt handed over by the read path (under the lease): removed by its key */
  | { from: 'handed_over', token: string }

export interface Problem {
  code: string
  message: string
  /** the `cancelled` log rows it leaves, if any */
  logs?: AttemptLog[]
  /** or the dead letter it becomes */
  deadLetter?: DeadLetterToWrite
}

export interface StoredWork {
  claim: Claim
  /** what it runs (nothing when it cannot run: `problem`) */
  deliveries: Delivery[]
  /** an ordered observer's group: its deliveries run as one, and hold its key when they do not resolve */
  group?: OrderedGroup
  problem?: Problem
  /** already run (a handed-over attempt): settled, not run again */
  results?: AttemptResult[]
}

export interface StoredHooks {
  /** the commit scheduled retries, the first due then (epoch ms) */
  onRetriesScheduled?: (dueAt: number) => void
  /** the lease the claims were made under (releases, handovers): nothing is committed once it is lost */
  fence?: LeaseFence
  /** how long the token-held claims were taken for: renewed while the work runs (claim-renewal.ts) */
  claimMs?: number
}

/** Runs the claimed work and commits what it owes with the end of every claim; the results per work item. */
export async function runStored (ctx: RuntimeContext, work: readonly StoredWork[], hooks: StoredHooks = {}): Promise<AttemptResult[][]> {
  const stopRenewing = hooks.claimMs === undefined ? undefined : renewWhileRunning(ctx, work, hooks.claimMs)
  try {
    return await runAndCommit(ctx, work, hooks)
  } finally {
    stopRenewing?.()
  }
}

async function runAndCommit (ctx: RuntimeContext, work: readonly StoredWork[], hooks: StoredHooks): Promise<AttemptResult[][]> {
  const loose = work.flatMap((w) => w.problem === undefined && w.group === undefined && w.results === undefined ? w.deliveries : [])
  const [looseResults, groupResults] = await Promise.all([
    ctx.executor.runAll(loose),
    Promise.all(work.map(async (w) => w.problem === undefined && w.group !== undefined && w.results === undefined ? await ctx.executor.runAll(w.deliveries) : undefined))
  ])
  let next = 0
  const ran = work.map((w, i) => {
    if (w.results !== undefined) return w.results
    if (w.problem !== undefined) return []
    if (w.group !== undefined) return groupResults[i] as AttemptResult[]
    const results = looseResults.slice(next, next + w.deliveries.length)
    next += w.deliveries.length
    return results
  })
  await commitStored(ctx, work, ran, hooks)
  return ran
}

/**
 * Settles what the work's attempts owe and commits it with the end of their claims, in one
 * transaction; the settlement of a claim no longer this worker's is dropped. True per work item
 * committed here.
 */
export async function commitStored (ctx: RuntimeContext, work: readonly StoredWork[], ran: readonly AttemptResult[][], hooks: StoredHooks = {}): Promise<boolean[]> {
  const now = new Date()
  const items = work.map((w, i) => ({ claim: claimEnd(w, ran[i]), settlement: settlementOf(w, ran[i], now) }))
  const held = await commitStoredWork(ctx.db, ctx.schema, items, hooks.fence)
  const committed = items.filter((_, i) => held[i]).map((i) => i.settlement)
  for (let i = 0; i < work.length; i++) {
    if (held[i]) continue
    const { claim } = work[i]
    ctx.log.warn({ claim: claim.from, observer_id: work[i].deliveries[0]?.observer.id, event_id: work[i].deliveries[0]?.event.event_id }, 'stored delivery not committed: its claim (or the lease) is no longer this instance\'s')
  }
  // attempts run elsewhere (handed over) are counted once they are committed
  const before = work.filter((w, i) => held[i] && w.results !== undefined).flatMap((w) => w.results as AttemptResult[])
  if (before.length > 0) ctx.executor.count(before)
  const scheduled = committed.flatMap((s) => s.retries)
  if (scheduled.length > 0) hooks.onRetriesScheduled?.(firstDue({ ...emptySettlement(), retries: scheduled }))
  warnDeadLetters(ctx, committed.flatMap((s) => s.deadLetters))
  return held
}

/** What one work item owes: its attempts settled (an ordered group's with its key), or what its problem leaves. */
function settlementOf (w: StoredWork, results: readonly AttemptResult[], now: Date): Settlement {
  const settlement = emptySettlement()
  const { problem, group } = w
  if (problem !== undefined) {
    if (problem.logs !== undefined) settlement.logs.push(...problem.logs)
    if (problem.deadLetter !== undefined) settlement.deadLetters.push(problem.deadLetter)
  } else if (group !== undefined) {
    settleGroups([{ group, state: stateOf(results, group.observer), results: [...results] }], settlement, now)
  } else {
    settle(results, now, Math.random, settlement)
  }
  return settlement
}

function claimEnd ({ claim, problem, deliveries }: StoredWork, results: readonly AttemptResult[]): ClaimEnd {
  switch (claim.from) {
    case 'retry': return { kind: 'retry', pk: claim.pk, token: claim.token }
    case 'parked': return { kind: 'parked', pk: claim.pk }
    case 'handed_over': {
      const { event, observer, actionIndex } = deliveries[0]
      return { kind: 'handed_over', event_id: event.event_id, observer_id: observer.id, action_index: actionIndex, token: claim.token }
    }
    default:
      if (problem !== undefined) return { kind: 'dead_letter', id: claim.id, token: claim.token, delivered: false, failure: problem }
      // a change that reads now is delivered like any event: its actions retry or dead-letter on their own
      return { kind: 'dead_letter', id: claim.id, token: claim.token, delivered: claim.from === 'unreadable' || (results.length > 0 && results.every((r) => r.outcome.ok)) }
  }
}
