// The scale-out scenario's second part: instances that already share the stream, events flowing.
// One is killed (kill -9), timed until every partition it held is held by one of the others, and
// until the split among the survivors is fair; then a new instance joins, timed until it holds its
// share, ceil(partitions / live). Then the flow stops and everything written must be delivered
// and logged: a kill may deliver a batch again (at least once), nothing may be lost.
import { setTimeout as sleep } from 'node:timers/promises'
import type { BenchContext } from '../app.js'
import { now } from '../clock.js'
import { dbOutcome, insertChangeLog, retriesPending, waitUntil } from '../data.js'
import { openInstance, type Instance } from '../instance-client.js'
import { loadAverage } from '../machine.js'
import { atHeads, fair, partitionCheckpoints, partitionHeads, partitionHolders, shares, type PartitionHolder } from '../partitions.js'
import type { Sink } from '../sink-client.js'
import { round } from '../stats.js'
import { checkDeliveries, type Correctness } from './common.js'

const LISTENER = 'default'
/** events written per tick of the flow, and the tick: about 1 000 a second */
const FLOW_ROWS = 20
const FLOW_EVERY_MS = 20
/** the flow runs this long before the kill, so that batches are in flight when it lands */
const FLOW_BEFORE_KILL_MS = 1000
const WAIT_MS = 30_000

export interface MembershipResult {
  instances_before: number
  /** events written per second while it ran (one INSERT of FLOW_ROWS rows per tick) */
  flow_per_s: number
  killed: { instance_id: string, partitions: number[] }
  /** kill -9 → the first, and every one, of its partitions held by a live instance (tb_observer_partition) */
  failover_first_ms: number
  failover_ms: number
  /** kill -9 → every partition held by the survivors, none over ceil(partitions / survivors) */
  failover_fair_ms: number
  joined: {
    instance_id: string
    /** the process forked → the plugin registered (its code loaded, migrations checked) */
    open_ms: number
    /** start() → it holds ceil(partitions / live) */
    share_ms: number
    /** start() → every instance at most at its share, every partition held */
    fair_ms: number
    share: number
  }
  /** partitions held per instance at the end */
  held_at_end: Record<string, number>
  /** the term of each partition at the end (one more for every take-over) */
  terms_at_end: number[]
  events: number
  /** the flow stopped → every checkpoint at its head, no retry pending */
  drain_after_flow_ms: number
  /** deliveries the sink, and success rows the log, still lacked at that moment (0 and 0: none owed behind a checkpoint) */
  short_at_heads: { sink: number, logs: number }
  /** then → nothing lacking (null: none lacked, or still lacking after 30 s) */
  late_ms: number | null
  /** deliveries the sink got more than once: after the kill (before the join), and at the end */
  duplicates_before_join: number
  duplicates_at_end: number
  load_average: { start: number[], end: number[] }
  correctness: Correctness
}

/** Events written in the background, numbered on from `from`, until stop(). */
function startFlow (ctx: BenchContext, schema: string, from: number): { stop: () => Promise<{ written: number, perSecond: number }> } {
  const state = { on: true, next: from }
  const began = now()
  const running = (async () => {
    while (state.on) {
      await insertChangeLog(ctx.pool, schema, FLOW_ROWS, { from: state.next, chunk: FLOW_ROWS })
      state.next += FLOW_ROWS
      await sleep(FLOW_EVERY_MS)
    }
  })()
  return {
    stop: async () => {
      state.on = false
      await running
      const written = state.next - from
      return { written, perSecond: Math.round(written / ((now() - began) / 1000)) }
    }
  }
}

/** Polls the partitions' holders until `check` answers true; the time it first did. */
async function holdersUntil (ctx: BenchContext, schema: string, what: string, check: (holders: PartitionHolder[]) => boolean): Promise<number> {
  return await waitUntil(async () => check(await partitionHolders(ctx.pool, schema, LISTENER)), what, WAIT_MS, 10)
}

/**
 * `instances` share the `partitions` of a schema where `backlog` events were delivered. Kills the
 * first, adds a new one to `instances` (the caller stops them all).
 */
export async function failoverAndJoin (ctx: BenchContext, sink: Sink, schema: string, partitions: number, instances: Instance[], backlog: number): Promise<MembershipResult> {
  const loadStart = loadAverage()
  const before = instances.length
  const victim = instances[0]
  const flow = startFlow(ctx, schema, backlog + 1)
  let flowStopped = false
  try {
    await sleep(FLOW_BEFORE_KILL_MS)
    const held = (await partitionHolders(ctx.pool, schema, LISTENER)).filter((h) => h.holder === victim.id).map((h) => h.partition)
    const survivors = instances.filter((i) => i !== victim).map((i) => i.id)
    ctx.progress(`scaleout failover: kill -9 of ${victim.id} (partitions ${held.join(', ')}) while events flow`)
    const killedAt = now()
    await victim.kill()
    let firstAt: number | null = null
    const takenAt = await holdersUntil(ctx, schema, `the partitions of ${victim.id} to be taken`, (holders) => {
      const taken = held.filter((p) => survivors.includes(holders.find((h) => h.partition === p)?.holder ?? '')).length
      if (taken > 0) firstAt ??= now()
      return taken === held.length
    })
    const fairAfterKill = await holdersUntil(ctx, schema, 'a fair split among the survivors', (holders) => fair(holders, survivors))
    ctx.progress(`scaleout failover: its partitions held again after ${Math.round(takenAt - killedAt)} ms, the split fair after ${Math.round(fairAfterKill - killedAt)} ms`)

    const duplicatesBeforeJoin = (await sink.stats()).duplicates
    const joinId = `i${before + 1}`
    const forked = now()
    const joining = await openInstance(ctx, schema, joinId, { partitions })
    instances.push(joining)
    const opened = now()
    const live = [...survivors, joinId]
    const share = Math.ceil(partitions / live.length)
    ctx.progress(`scaleout join: ${joinId} starts; its share is ${share}`)
    const startedAt = now()
    await joining.start()
    const shareAt = await holdersUntil(ctx, schema, `${joinId} to hold its share`, (holders) => shares(holders, live).held[joinId] >= share)
    const fairAt = await holdersUntil(ctx, schema, 'a fair split with the new instance', (holders) => fair(holders, live))
    ctx.progress(`scaleout join: its share after ${Math.round(shareAt - startedAt)} ms, the split fair after ${Math.round(fairAt - startedAt)} ms`)

    const { written, perSecond } = await flow.stop()
    flowStopped = true
    const stoppedAt = now()
    const events = backlog + written
    const heads = await partitionHeads(ctx.pool, ctx.code, schema, partitions)
    const drainedNow = async (): Promise<boolean> =>
      atHeads(await partitionCheckpoints(ctx.pool, ctx.code, schema, LISTENER, partitions), heads) && await retriesPending(ctx.pool, schema) === 0
    const drained = await waitUntil(drainedNow, 'every event of the flow to be logged', WAIT_MS * 2, 10)
    // the checkpoints at their heads and no retry pending should mean every delivery made and
    // logged: what the sink and the log still lack then is noted, and waited for a while
    const owed = async (): Promise<{ sink: number, logs: number }> =>
      ({ sink: events - (await sink.stats()).delivered, logs: events - (await dbOutcome(ctx.pool, schema)).logs_success })
    const shortAtHeads = await owed()
    let lateMs: number | null = null
    if (shortAtHeads.sink > 0 || shortAtHeads.logs > 0) {
      ctx.progress(`scaleout membership: every checkpoint at its head, no retry pending, yet ${shortAtHeads.sink} deliveries not made and ${shortAtHeads.logs} not logged; waiting`)
      const caughtUp = await waitUntil(async () => { const o = await owed(); return o.sink <= 0 && o.logs <= 0 }, 'the deliveries owed behind the checkpoints', WAIT_MS, 50).catch(() => null)
      lateMs = caughtUp === null ? null : round(caughtUp - drained, 1)
    }
    const { correctness, sink: stats } = await checkDeliveries(ctx, sink, schema, 1, events, { atHead: true })
    const end = await partitionHolders(ctx.pool, schema, LISTENER)
    const result: MembershipResult = {
      instances_before: before,
      flow_per_s: perSecond,
      killed: { instance_id: victim.id, partitions: held },
      failover_first_ms: round((firstAt ?? takenAt) - killedAt, 1),
      failover_ms: round(takenAt - killedAt, 1),
      failover_fair_ms: round(fairAfterKill - killedAt, 1),
      joined: { instance_id: joinId, open_ms: round(opened - forked, 1), share_ms: round(shareAt - startedAt, 1), fair_ms: round(fairAt - startedAt, 1), share },
      held_at_end: shares(end, live).held,
      terms_at_end: end.map((h) => h.term),
      events,
      drain_after_flow_ms: round(drained - stoppedAt, 1),
      short_at_heads: shortAtHeads,
      late_ms: lateMs,
      duplicates_before_join: duplicatesBeforeJoin,
      duplicates_at_end: stats.duplicates,
      load_average: { start: loadStart, end: loadAverage() },
      correctness
    }
    ctx.progress(`scaleout membership: ${events} events, ${stats.duplicates} delivered twice, ${correctness.ok ? 'nothing lost' : correctness.problems.join('; ')}`)
    return result
  } finally {
    if (!flowStopped) await flow.stop().catch(() => {})
  }
}
