// backlog: 100 000 change-log rows, one observer with a webhook to the sink, runtime started after;
// backlog-1m: the same with 1 000 000 rows, for the memory curve of a long drain.
import type { BenchContext } from '../app.js'
import type { Sink } from '../sink-client.js'
import { drain, type DrainResult } from './drain.js'

export async function backlog (ctx: BenchContext, sink: Sink, name = 'backlog'): Promise<DrainResult> {
  return await drain(ctx, sink, { name, events: ctx.quick ? 20_000 : 100_000, observers: 1 })
}

/** backlog-1m (not run by default): a 1 000 000-row backlog; its memory curve must stay flat. */
export async function backlogMillion (ctx: BenchContext, sink: Sink): Promise<DrainResult> {
  return await drain(ctx, sink, { name: 'backlog_1m', events: ctx.quick ? 100_000 : 1_000_000, observers: 1 })
}
