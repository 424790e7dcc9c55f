// Runtime control and the delivery summary.
import { Type } from 'typebox'
import { DateTimeSchema, Nullable } from './common.js'

export const ReloadResultSchema = Type.Object({ message: Type.String(), count: Type.Integer({ description: 'Enabled, live observers loaded' }) })

export const DeliveryHealthSchema = Type.Object({
  in_flight: Type.Integer({ description: 'Change-log rows this process is delivering right now' }),
  retries_scheduled: Type.Integer({ description: 'Failed actions waiting for their next attempt' }),
  retries_due: Type.Integer({ description: 'Scheduled retries whose time has come' }),
  next_retry_at: Nullable(DateTimeSchema, 'When the earliest scheduled retry is due'),
  dead_letters: Type.Integer({ description: 'Failed actions waiting for an operator' }),
  oldest_pending_age_seconds: Type.Number({
    description: 'Age of the oldest delivery still owed (not dead-lettered): the oldest change-log row this listener has not read, or the first failure of the oldest scheduled retry; 0 when nothing is owed'
  })
}, { title: 'DeliveryHealth' })

export const InstancesSchema = Type.Object({
  data: Type.Array(Type.Object({
    instance_id: Type.String({ description: 'runtime.instanceId (OBSERVERS_INSTANCE_ID), host:pid by default' }),
    host: Type.String(),
    pid: Type.Integer(),
    started_at: DateTimeSchema,
    last_seen: DateTimeSchema,
    partitions: Type.Array(Type.Object({
      partition: Type.Integer(),
      term: Type.String({ description: 'Grows with each take-over; a commit made under an older term is refused' }),
      checkpoint: Type.String({ description: 'Change-log id of the partition\'s checkpoint' }),
      lag_events: Type.Integer({ description: 'Rows of the partition after its checkpoint, counted up to 10 000' })
    }))
  })),
  partitions: Type.Integer({ description: 'The partitions of the listener\'s stream (runtime.partitions at its first start; PUT /listeners/{listener_id} changes it)' })
}, { title: 'RuntimeInstances' })
