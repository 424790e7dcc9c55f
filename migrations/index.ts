// Every migration, in order. Names are sortable and never change once landed.
import type { Migration } from 'kysely/migration'
import { initial } from './001-initial.js'
import { observerVersion } from './002-observer-version.js'
import { observerListOrder } from './003-observer-list-order.js'
import { logStatusIndex } from './004-log-status-index.js'
import { notifyTxid } from './005-notify-txid.js'
import { unreadableChangeDeadLetters } from './006-unreadable-change-dead-letters.js'
import { orderedDelivery } from './007-ordered-delivery.js'
import { traceContext } from './008-trace-context.js'
import { endpointProtection } from './009-endpoint-protection.js'
import { retryEventJson } from './010-retry-event-json.js'
import { changeOrder } from './011-change-order.js'

export function migrations (schema: string): Record<string, Migration> {
  return {
    '001-initial': initial(schema),
    '002-observer-version': observerVersion(schema),
    '003-observer-list-order': observerListOrder(schema),
    '004-log-status-index': logStatusIndex(schema),
    '005-notify-txid': notifyTxid(schema),
    '006-unreadable-change-dead-letters': unreadableChangeDeadLetters(schema),
    '007-ordered-delivery': orderedDelivery(schema),
    '008-trace-context': traceContext(schema),
    '009-endpoint-protection': endpointProtection(schema),
    '010-retry-event-json': retryEventJson(schema),
    '011-change-order': changeOrder(schema)
  }
}
