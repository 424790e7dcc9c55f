// The console's overview series (SPEC 9.6) and the newest change-log rows for its dry run.
import { Type } from 'typebox'
import { ChangeLogEntrySchema } from './changelog.js'

export const ThroughputQuerySchema = Type.Object({
  seconds: Type.Integer({ minimum: 1, maximum: 900, default: 900, description: 'How many of the last seconds (at most 900: 15 minutes)' })
}, { additionalProperties: false })

export const ThroughputSchema = Type.Object({
  start: Type.Integer({ description: 'Unix time (seconds) of the first entry; entry i is second start + i' }),
  delivered: Type.Array(Type.Integer(), { description: 'Successful attempts per second, every instance\'s' }),
  failed: Type.Array(Type.Integer(), { description: 'Failed attempts per second (retried or dead-lettered)' }),
  lag_events: Type.Array(Type.Union([Type.Integer(), Type.Null()]), { description: 'Change-log rows behind, sampled every few seconds (null: no sample that second)' }),
  lag_seconds: Type.Array(Type.Union([Type.Number(), Type.Null()]), { description: 'Age of the oldest unread row, sampled with lag_events' }),
  instances: Type.Integer({ description: 'Instances whose counts are in the series' })
}, { title: 'Throughput' })

export const RecentChangesQuerySchema = Type.Object({
  object_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 })
}, { additionalProperties: false })

export const RecentChangesSchema = Type.Object({
  entries: Type.Array(ChangeLogEntrySchema, { description: 'Newest first' })
}, { title: 'RecentChanges' })
