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
import { observerTenantOrder } from './011-observer-tenant-order.js'
import { throughput } from './012-throughput.js'
import { claimTokens } from './013-claim-tokens.js'
import { observerRowVersion } from './014-observer-row-version.js'
import { deadLetterAge } from './015-dead-letter-age.js'
import { endpointWindow } from './016-endpoint-window.js'
import { changeOrder } from './017-change-order.js'
import { jobs } from './018-jobs.js'
import { releasableKeys } from './019-releasable-keys.js'
import { partitions } from './020-partitions.js'
import { resplit } from './021-resplit.js'
import { backfillChunk } from './022-backfill-chunk.js'

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
    '011-observer-tenant-order': observerTenantOrder(schema),
    '012-throughput': throughput(schema),
    '013-claim-tokens': claimTokens(schema),
    '014-observer-row-version': observerRowVersion(schema),
    '015-dead-letter-age': deadLetterAge(schema),
    '016-endpoint-window': endpointWindow(schema),
    '017-change-order': changeOrder(schema),
    '018-jobs': jobs(schema),
    '019-releasable-keys': releasableKeys(schema),
    '020-partitions': partitions(schema),
    '021-resplit': resplit(schema),
    '022-backfill-chunk': backfillChunk(schema)
  }
}
