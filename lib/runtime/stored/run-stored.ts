// The one path for a delivery stored in a table and run again: a retry that fell due, an
// operator's retry of a dead letter, an unreadable change read again, a parked event released,
// and an attempt the read path handed over. Each loader claims its rows and says what they run
// (load-stored.ts builds most of them); here they run through the executor like any delivery,
// are settled, and are committed in one transaction with the end of their claims.
import { commitSettlement, type ClaimsToRelease } from '../../db/settlement.repo.js'
import type { AttemptLog, DeadLetterToWrite, Settlement } from '../../model.js'
import { warnDeadLetters, type RuntimeContext } from '../context.js'
import type { AttemptResult } from '../delivery/attempt.js'
import type { Delivery } from '../delivery/delivery.js'
import { emptySettlement, firstDue, settle } from '../delivery/settling.js'
import { settleGroups, stateOf, type GroupResult, type OrderedGroup } from '../read-path/ordering.js'

/** What a stored delivery was claimed from: how its claim ends once it ran. */
export type Claim =
  /** a retry row: removed (a failure is scheduled again under the same key) */
  | { from: 'retry', pk: string }
  /** a dead letter of one action: removed when delivered, else kept with its claim ended */
  | { from: 'dead_letter', id: string }
  /** a dead letter of a whole change that could not be read: removed once it reads */
  | { from: 'unreadable', id: string }
  /** a parked event of an ordered key: removed, its group holding or freeing the key */
  | { from: 'parked', pk: string }
  /** a retry row that claims an attempt handed over by the read path: removed by its key */
  | { from: 'handed_over' }

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
}

/** Runs the claimed work and commits what it owes with the end of every claim; the results per work item. */
export async function runStored (ctx: RuntimeContext, work: readonly StoredWork[], hooks: StoredHooks = {}): Promise<AttemptResult[][]> {
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

/** Settles what the work's attempts owe and commits it with the end of their claims, in one transaction. */
export async function commitStored (ctx: RuntimeContext, work: readonly StoredWork[], ran: readonly AttemptResult[][], hooks: StoredHooks = {}): Promise<Settlement> {
  const settlement = emptySettlement()
  const groups: GroupResult[] = []
  const release: ClaimsToRelease = { retries: [], deadLetters: [], parked: [], handedOver: [] }
  const now = new Date()
  work.forEach((w, i) => {
    const results = ran[i]
    const { claim, problem } = w
    if (problem !== undefined) {
      if (problem.logs !== undefined) settlement.logs.push(...problem.logs)
      if (problem.deadLetter !== undefined) settlement.deadLetters.push(problem.deadLetter)
    } else if (w.group !== undefined) {
      groups.push({ group: w.group, state: stateOf(results, w.group.observer), results })
    } else {
      settle(results, now, Math.random, settlement)
    }
    if (claim.from === 'retry') release.retries.push(claim.pk)
    else if (claim.from === 'parked') release.parked?.push(claim.pk)
    else if (claim.from === 'handed_over') {
      for (const { event, observer, actionIndex } of w.deliveries) release.handedOver?.push({ event_id: event.event_id, observer_id: observer.id, action_index: actionIndex })
    } else if (problem !== undefined) release.deadLetters.push({ id: claim.id, delivered: false, failure: problem })
    // a change that reads now is delivered like any event: its actions retry or dead-letter on their own
    else release.deadLetters.push({ id: claim.id, delivered: claim.from === 'unreadable' || results.every((r) => r.outcome.ok) })
  })
  settleGroups(groups, settlement, now)
  await commitSettlement(ctx.db, ctx.schema, settlement, { release })
  const before = work.filter((w) => w.results !== undefined).flatMap((w) => w.results as AttemptResult[])
  // attempts run elsewhere (handed over) are counted once they are committed
  if (before.length > 0) ctx.executor.count(before)
  if (settlement.retries.length > 0) hooks.onRetriesScheduled?.(firstDue(settlement))
  warnDeadLetters(ctx, settlement.deadLetters)
  return settlement
}
