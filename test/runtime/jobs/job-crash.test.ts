import t from 'tap'
import { build, eventually } from '../../helper.js'
import { startHttpTarget } from '../../helpers/http-target.js'
import { getDatabaseUrl } from '../../helpers/pg.js'
import { kill9, startRuntimeProcess } from '../../helpers/processes.js'
import { insertChanges } from '../../helpers/rows.js'
import { call, createObserver } from '../../helpers/routes.js'
import { replayChunk } from '../../../lib/runtime/jobs/replay.js'

t.test('a job survives kill -9 and another instance finishes it from its cursor', async (t) => {
  const sink = await startHttpTarget(t, (_req, res) => { setTimeout(() => res.writeHead(200).end(), 5) })
  // the API only, here; the runtimes run in child processes
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const url = await getDatabaseUrl()
  const o = await createObserver(app, { entity_type: 'order', actions: [{ type: 'webhook', url: sink.url }] })
  const N = 300
  await insertChanges(pool, schema, N)
  const runtime = { concurrency: 4 } // one job slot: the replay takes a while
  const first = await startRuntimeProcess(t, url, schema, 'default', runtime)
  await sink.waitFor(N, 20_000)

  const { job_id: id } = (await call(app, 'POST', `/${o.id}/replay`, { after_cursor: 0 })).json()
  await sink.waitFor(N + 40, 20_000)
  await kill9(first)
  const atCrash = (await call(app, 'GET', `/jobs/${id}`)).json()
  t.match(atCrash, { status: 'running' }, 'the dead worker\'s job is still running: its lease lapses')
  t.ok(atCrash.done >= 40 - replayChunk(1) && atCrash.done < N, 'part of it was committed')

  await startRuntimeProcess(t, url, schema, 'default', runtime)
  const done = await eventually(async () => {
    const j = (await call(app, 'GET', `/jobs/${id}`)).json()
    return j.status === 'done' ? j : undefined
  }, 30_000, 'another instance finishes the job')
  t.match(done, { total: N, done: N })
  const replayed = sink.received.slice(N).map((r) => r.json.entity_id)
  t.equal(new Set(replayed).size, N, 'every row was replayed')
  t.ok(replayed.length - N <= replayChunk(1), `only the step in flight at the crash was sent again (${replayed.length - N})`)
})
