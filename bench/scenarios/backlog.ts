// backlog: 100 000 change-log rows, one observer with a webhook to the sink, runtime started after.
import type { BenchContext } from '../app.js'
import type { Sink } from '../sink-client.js'
import { drain, type DrainResult } from './drain.js'

export async function backlog (ctx: BenchContext, sink: Sink, name = 'backlog'): Promise<DrainResult> {
  return await drain(ctx, sink, { name, events: ctx.quick ? 20_000 : 100_000, observers: 1 })
}
