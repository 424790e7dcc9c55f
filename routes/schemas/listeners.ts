// A listener's partitions and their re-split.
import { Type } from 'typebox'
import { DateTimeSchema, Nullable } from './common.js'

export const ListenerSchema = Type.Object({
  listener_id: Type.String(),
  partitions: Type.Integer({ description: 'The partitions the listener\'s stream is read in now' }),
  resplit: Nullable(Type.Object({
    partitions: Type.Integer({ description: 'The count asked for' }),
    requested_at: DateTimeSchema,
    barrier_txid: Type.String({ description: 'The id of the transaction that asked: each partition reads the changes of the transactions before it, then waits' }),
    partitions_at_barrier: Type.Integer({ description: 'Partitions that have read everything before the barrier; the switch comes once all have' })
  }), 'A re-split under way; null when none is')
}, { title: 'Listener' })

export const ResplitSchema = Type.Object({
  partitions: Type.Integer({ minimum: 1, maximum: 256, description: 'The new partition count (the current one cancels a re-split under way)' })
}, { additionalProperties: false })

export const ResplitQuerySchema = Type.Object({
  wait_seconds: Type.Integer({ minimum: 0, maximum: 60, default: 30, description: 'How long to wait for the switch before answering 202 (the re-split goes on)' })
}, { additionalProperties: false })
