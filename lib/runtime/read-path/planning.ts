// Planning: the rows of a batch -> events -> the deliveries their matched observers owe, observers
// in priority order and actions in their order. An ordered observer's deliveries for one event
// form a group (ordering.ts), parked at once when its key is held. Pure: no I/O.
import type { ChangeLogRow, ObserverEvent } from '../../model.js'
import type { Delivery } from '../delivery/delivery.js'
import { toEvent, UnreadableChangeError, type RefusedRow } from '../delivery/event.js'
import type { Matcher } from '../observers/matcher.js'
import { keyOf, type OrderedGroup } from './ordering.js'

export interface Plan {
  /** how many rows of the batch the plan covers: all of them, or fewer to stay within `room` */
  kept: number
  /** deliveries of unordered observers: they run at once, side by side */
  deliveries: Delivery[]
  /** deliveries of ordered observers, one group per (event, observer), in commit order */
  groups: OrderedGroup[]
  refused: RefusedRow[]
}

const NOTHING_HELD = { isHeld: (): boolean => false }

/**
 * Plans `rows` within `room` deliveries: the plan stops before the row that would overflow it,
 * but always covers at least one row (a row owing more than `room` still goes, alone).
 */
export function planBatch (rows: readonly ChangeLogRow[], matcher: Matcher, room: number, keys: { isHeld: (key: string) => boolean } = NOTHING_HELD): Plan {
  const plan: Plan = { kept: rows.length, deliveries: [], groups: [], refused: [] }
  let planned = 0
  for (let i = 0; i < rows.length; i++) {
    let event: ObserverEvent
    try {
      event = toEvent(rows[i])
    } catch (err) {
      plan.refused.push({ row: rows[i], code: err instanceof UnreadableChangeError ? err.code : 'INVALID_EVENT', message: (err as Error).message })
      continue
    }
    const before = { deliveries: plan.deliveries.length, groups: plan.groups.length, planned }
    for (const { observer, retry } of matcher.match(event)) {
      const actions = observer.actions
      const out: Delivery[] = observer.ordering === 'entity' ? [] : plan.deliveries
      for (let a = 0; a < actions.length; a++) {
        out.push({ event, observer, retry, actionIndex: a, action: actions[a], attempt: 1, origin: 'change_log' })
      }
      planned += actions.length
      if (out !== plan.deliveries) {
        const key = keyOf(observer.id, event.entity_type, event.entity_id)
        plan.groups.push({ key, observer, event, deliveries: out, parked: keys.isHeld(key) })
      }
    }
    if (planned > room && i > 0) {
      plan.deliveries.length = before.deliveries
      plan.groups.length = before.groups
      plan.kept = i
      return plan
    }
  }
  return plan
}
