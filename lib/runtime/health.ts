// The health report of SPEC section 8, shared by app.observers.health() and the health route.
import { Type, type Static } from 'typebox'

export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('degraded')]),
  running: Type.Boolean(),
  listener_id: Type.String(),
  /** this instance holds the listener's lease and reads the change log */
  reading: Type.Boolean(),
  observer_count: Type.Integer(),
  /** change-log id of the checkpoint, null before the first batch */
  checkpoint: Type.Union([Type.String(), Type.Null()]),
  events_processed: Type.Integer(),
  errors: Type.Integer(),
  lag_events: Type.Integer(),
  lag_seconds: Type.Number(),
  retries_pending: Type.Integer(),
  dead_letters: Type.Integer(),
  /** set while an open transaction holds the commit-order horizon back */
  horizon_held: Type.Union([Type.Null(), Type.Object({
    since: Type.String({ format: 'date-time' }),
    pid: Type.Union([Type.Integer(), Type.Null()]),
    transaction_started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
  })]),
  last_error: Type.Union([Type.String(), Type.Null()])
}, { title: 'RuntimeHealth' })

export type Health = Static<typeof HealthSchema>
