// Planning: the rows of a batch -> events -> the deliveries their matched observers owe, observers
// in priority order and actions in their order. Pure: matching and the event conversion do no I/O.
import type { ChangeLogRow, ObserverEvent } from '../model.js'
import type { Delivery } from './delivery.js'
import { toEvent, UnreadableChangeError } from './event.js'
import type { Matcher } from './matcher.js'

/** A row that cannot be turned into an event, and why. */
export interface RefusedRow {
  row: ChangeLogRow
  code: string
  message: string
}

export interface Plan {
  /** how many rows of the batch the plan covers: all of them, or fewer to stay within `room` */
  kept: number
  deliveries: Delivery[]
  refused: RefusedRow[]
}

/**
 * Plans `rows` within `room` deliveries: the plan stops before the row that would overflow it,
 * but always covers at least one row (a row owing more than `room` still goes, alone).
 */
export function planBatch (rows: readonly ChangeLogRow[], matcher: Matcher, room: number): Plan {
  const deliveries: Delivery[] = []
  const refused: RefusedRow[] = []
  for (let i = 0; i < rows.length; i++) {
    let event: ObserverEvent
    try {
      event = toEvent(rows[i])
    } catch (err) {
      refused.push({ row: rows[i], code: err instanceof UnreadableChangeError ? err.code : 'INVALID_EVENT', message: (err as Error).message })
      continue
    }
    const before = deliveries.length
    for (const { observer, retry } of matcher.match(event)) {
      const actions = observer.actions
      for (let a = 0; a < actions.length; a++) {
        deliveries.push({ event, observer, retry, actionIndex: a, action: actions[a], attempt: 1, origin: 'change_log' })
      }
    }
    if (deliveries.length > room && i > 0) {
      deliveries.length = before
      return { kept: i, deliveries, refused }
    }
  }
  return { kept: rows.length, deliveries, refused }
}
