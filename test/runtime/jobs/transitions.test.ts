import t from 'tap'
import { JOB_STATUSES, isFinal, movableFrom, nextStatus, targetOf, type JobMove } from '../../../lib/runtime/jobs/transitions.js'

t.test('a job moves only along the table', async (t) => {
  t.equal(nextStatus('queued', 'claim'), 'running')
  t.equal(nextStatus('running', 'claim'), 'running', 'a running job whose lease lapsed is claimed again')
  t.equal(nextStatus('running', 'finish'), 'done')
  t.equal(nextStatus('running', 'fail'), 'failed')
  t.equal(nextStatus('running', 'release'), 'queued', 'a worker that stops hands its job back')
  t.equal(nextStatus('running', 'pause'), 'paused')
  t.equal(nextStatus('queued', 'pause'), 'paused')
  t.equal(nextStatus('paused', 'resume'), 'queued', 'a resumed job waits for a worker')
  for (const from of ['queued', 'running', 'paused'] as const) t.equal(nextStatus(from, 'cancel'), 'cancelled', `cancel from ${from}`)
  t.equal(nextStatus('paused', 'claim'), undefined, 'no worker takes a paused job')
  t.equal(nextStatus('paused', 'finish'), undefined)
  t.equal(nextStatus('queued', 'resume'), undefined)
  t.equal(nextStatus('queued', 'finish'), undefined, 'only a running job finishes')
})

t.test('done, failed and cancelled are final; the others are not', async (t) => {
  const moves: JobMove[] = ['claim', 'release', 'finish', 'fail', 'pause', 'resume', 'cancel']
  for (const status of ['done', 'failed', 'cancelled'] as const) {
    t.ok(isFinal(status), status)
    for (const move of moves) t.equal(nextStatus(status, move), undefined, `${move} from ${status}`)
  }
  for (const status of ['queued', 'running', 'paused'] as const) t.notOk(isFinal(status), status)
  t.same(JOB_STATUSES, ['queued', 'running', 'paused', 'done', 'failed', 'cancelled'])
})

t.test('each move has one target and says where it may start', async (t) => {
  t.same(movableFrom('cancel').sort(), ['paused', 'queued', 'running'])
  t.same(movableFrom('resume'), ['paused'])
  t.equal(targetOf('cancel'), 'cancelled')
  t.equal(targetOf('claim'), 'running')
})
