// A replay (or, with only_failed, a redrive): the change-log rows of a window delivered again to
// one observer, in commit order, through the executor and the endpoint guard like every delivery
// (so rate limits, circuits and the concurrency bound apply), with the original idempotency keys
// (they derive from the event, the observer and the action). An ordered observer's events run one
// at a time per key; behind a key that is held, or that a replayed event blocks, they are parked
// as the read path parks them, and released in order by the release loop.
import { START, type Position } from '../../db/change-log.repo.js'
import { findObserversById } from '../../db/observers.repo.js'
import { failedActionsOf, heldKeysOf, readReplayChunk, type ReplayWindow } from '../../db/replay.repo.js'
import type { ObserverEvent } from '../../model.js'
import type { AttemptResult } from '../delivery/attempt.js'
import type { Delivery } from '../delivery/delivery.js'
import { toEvent } from '../delivery/event.js'
import { emptySettlement, settle } from '../delivery/settling.js'
import { buildMatcher } from '../observers/matcher.js'
import { keyOf, settleGroups, stateOf, type GroupResult, type OrderedGroup } from '../read-path/ordering.js'
import { JobFailure, runBounded, type JobRunner, type StepResult } from './job-step.js'

/**
 * Rows per step: the job commits its cursor and reads its status (pause, cancel) after each, so
 * a step is kept to a few deliveries per slot, at most 100 rows.
 */
export const replayChunk = (slots: number): number => Math.min(100, slots * 8)

export const replayRunner: JobRunner = {
  async step (ctx, job, slots): Promise<StepResult> {
    const window = job.params as unknown as ReplayWindow
    const at = (job.cursor ?? window.after ?? START) as unknown as Position
    const observer = (await findObserversById(ctx.db, [window.observer_id])).get(window.observer_id)
    if (observer === undefined || observer.deleted_at !== null) throw new JobFailure('the observer was deleted')
    if (!observer.enabled) throw new JobFailure('the observer was disabled')
    const { rows, heldBack } = await readReplayChunk(ctx.db, ctx.schema, window, at, replayChunk(slots))
    if (rows.length === 0) return { cursor: { ...at }, done: 0, failed: 0, finished: !heldBack, idle: heldBack }
    const last = rows[rows.length - 1]
    const cursor = { txid: last.txid, id: String(last.pk_entity_change_log) }
    const failedOnly = window.only_failed ? await failedActionsOf(ctx.db, ctx.schema, observer.id, rows.map((r) => r.id)) : undefined
    const matcher = buildMatcher([observer])
    const owed: Array<{ event: ObserverEvent, deliveries: Delivery[] }> = []
    for (const row of rows) {
      let event: ObserverEvent
      try {
        event = toEvent(row)
      } catch {
        continue // the read path dead-letters a row that is not an event; a replay has nothing to add
      }
      for (const { retry } of matcher.match(event)) {
        const deliveries = observer.actions.flatMap((action, actionIndex): Delivery[] =>
          failedOnly !== undefined && !failedOnly.has(`${event.event_id}:${actionIndex}`)
            ? []
            : [{ event, observer, retry, actionIndex, action, attempt: 1, origin: 'change_log' }])
        if (deliveries.length > 0) owed.push({ event, deliveries })
      }
    }
    const settlement = emptySettlement()
    let failed = 0
    const count = (results: readonly AttemptResult[]): void => { failed += results.filter((r) => !r.outcome.ok).length }
    let holds = false
    if (observer.ordering === 'entity') {
      const groups = owed.map(({ event, deliveries }): OrderedGroup => ({ key: keyOf(observer.id, event.entity_type, event.entity_id), observer, event, deliveries, parked: false }))
      const held = await heldKeysOf(ctx.db, ctx.schema, observer.id, groups.map((g) => g.event))
      const byKey = new Map<string, OrderedGroup[]>()
      for (const group of groups) byKey.set(group.key, [...(byKey.get(group.key) ?? []), group])
      const results: GroupResult[] = []
      await runBounded([...byKey.values()], slots, async (keyGroups) => {
        let blocked = held.has(`${keyGroups[0].event.entity_type}\u0000${keyGroups[0].event.entity_id}`)
        for (const group of keyGroups) {
          if (blocked) {
            results.push({ group, state: 'parked', results: [] })
            continue
          }
          const ran = await ctx.executor.runAll(group.deliveries)
          count(ran)
          const state = stateOf(ran, observer)
          blocked = state === 'blocked'
          results.push({ group, state, results: ran })
        }
      })
      // commit order within a key is kept by the parked rows' order of insertion
      results.sort((a, b) => groups.indexOf(a.group) - groups.indexOf(b.group))
      settleGroups(results, settlement)
      holds = settlement.holds.length > 0
    } else {
      const deliveries = owed.flatMap((o) => o.deliveries)
      const results: AttemptResult[] = new Array(deliveries.length)
      await runBounded(deliveries.map((d, i) => ({ d, i })), slots, async ({ d, i }) => {
        [results[i]] = await ctx.executor.runAll([d])
      })
      count(results)
      settle(results, new Date(), Math.random, settlement)
    }
    return { cursor, done: rows.length, failed, settlement, holds, finished: false }
  }
}

/** The row a job stores for a replay of `window` (its total is counted by the route). */
export function replayJobParams (window: ReplayWindow): { params: Record<string, unknown>, cursor: Record<string, unknown> } {
  return { params: { ...window }, cursor: { ...window.after } }
}
