import t from 'tap'
import { createEmailAction } from '../../lib/actions/email.js'
import type { EmailConfig } from '../../lib/actions/email.js'
import { startSmtpTarget } from '../helpers/smtp-target.js'
import { sampleEnvelope, testContext, testServices } from '../helpers/action-context.js'
import { closedPort } from '../helpers/ports.js'

type T = Parameters<typeof startSmtpTarget>[0]

function email (t: T) {
  const action = createEmailAction()
  t.teardown(() => action.close?.())
  return action
}

const event = sampleEnvelope()

t.test('the message arrives with its subject, body and recipients', async t => {
  const smtp = await startSmtpTarget(t)
  const config: EmailConfig = {
    type: 'email',
    to: ['ops@example.com', 'sales@example.com'],
    cc: 'audit@example.com',
    subject_template: 'Order {{ entity_id }}: {{ changes.status.new }}',
    body_template: 'Hello,\norder {{ entity_id }} went from {{ changes.status.old }} to {{ data.status }}.\n'
  }
  const arrived = smtp.nextMail()
  const outcome = await email(t).run(event, config, testContext(testServices({ smtp: smtp.transport })))
  t.match(outcome, { ok: true, response: /^250/ })
  const mail = await arrived
  t.same(mail.recipients, ['ops@example.com', 'sales@example.com', 'audit@example.com'])
  t.equal(mail.from, 'fastify-observers@localhost')
  t.equal(mail.headers.subject, 'Order 42: shipped')
  t.equal(mail.headers.to, 'ops@example.com, sales@example.com')
  t.equal(mail.headers.cc, 'audit@example.com')
  t.equal(mail.text.replace(/\r\n/g, '\n').trim(), 'Hello,\norder 42 went from paid to shipped.')
})

t.test('defaults: sender from the smtp option, subject and body naming the event', async t => {
  const smtp = await startSmtpTarget(t)
  const arrived = smtp.nextMail()
  await email(t).run(event, { type: 'email', to: 'ops@example.com', from: undefined }, testContext(testServices({ smtp: { ...smtp.transport, from: 'alerts@example.com' } })))
  const mail = await arrived
  t.equal(mail.from, 'alerts@example.com')
  t.equal(mail.headers.subject, '[UPDATE] order 42')
  t.match(mail.text, 'Observer ship-notify matched UPDATE on order 42 at 2024-05-01T12:00:00.000Z.')
  t.match(mail.text, '"status":"shipped"')
})

t.test('event data cannot add header lines through the subject', async t => {
  const smtp = await startSmtpTarget(t)
  const arrived = smtp.nextMail()
  const attack = sampleEnvelope({ data: { title: 'Hi\r\nBcc: evil@example.net\r\nX-Injected: 1' } })
  await email(t).run(attack, { type: 'email', to: 'ops@example.com', subject_template: '{{ data.title }}' }, testContext(testServices({ smtp: smtp.transport })))
  const mail = await arrived
  t.same(mail.recipients, ['ops@example.com'])
  t.equal(mail.headers['x-injected'], undefined)
  t.equal(mail.headers.bcc, undefined)
  t.equal(mail.headers.subject, 'Hi Bcc: evil@example.net X-Injected: 1')
})

t.test('one pooled connection carries successive messages', async t => {
  const smtp = await startSmtpTarget(t)
  const action = email(t)
  const ctx = testContext(testServices({ smtp: smtp.transport }))
  for (let i = 0; i < 3; i++) t.match(await action.run(event, { type: 'email', to: 'ops@example.com' }, ctx), { ok: true })
  t.equal(smtp.mails.length, 3)
  t.equal(smtp.connections(), 1)
})

t.test('5xx replies are permanent, 4xx replies transient', async t => {
  const smtp = await startSmtpTarget(t, (rcpt) => rcpt.startsWith('nobody') ? 550 : rcpt.startsWith('busy') ? 451 : null)
  const action = email(t)
  const ctx = testContext(testServices({ smtp: smtp.transport }))
  t.match(await action.run(event, { type: 'email', to: 'nobody@example.com' }, ctx), { ok: false, kind: 'permanent', code: 'SMTP_550', message: /refused/ })
  t.match(await action.run(event, { type: 'email', to: 'busy@example.com' }, ctx), { ok: false, kind: 'transient', code: 'SMTP_451' })
  t.equal(smtp.mails.length, 0)
})

t.test('an unreachable SMTP server is a transient NETWORK failure', async t => {
  const port = await closedPort()
  const outcome = await email(t).run(event, { type: 'email', to: 'ops@example.com' }, testContext(testServices({ smtp: { host: '127.0.0.1', port, ignoreTLS: true } })))
  t.match(outcome, { ok: false, kind: 'transient', code: 'NETWORK', message: /ECONNREFUSED/ })
})

t.test('check refuses email without an smtp option and bad templates', async t => {
  const action = email(t)
  t.equal(action.check?.({ type: 'email', to: 'a@example.com' }, testServices()), 'email actions need the smtp option')
  const services = testServices({ smtp: { host: 'mail.example.com' } })
  t.equal(action.check?.({ type: 'email', to: 'a@example.com' }, services), null)
  t.match(action.check?.({ type: 'email', to: 'a@example.com', subject_template: '{{ oops }}' }, services), /^subject_template: unknown placeholder/)
  t.same(await action.run(event, { type: 'email', to: 'a@example.com' }, testContext(testServices())),
    { ok: false, kind: 'permanent', code: 'CONFIG', message: 'email actions need the smtp option' })
})

t.test('render shows the message without sending it', async t => {
  const smtp = await startSmtpTarget(t)
  const rendered = await email(t).render(event, { type: 'email', to: ['a@example.com', 'b@example.com'], cc: 'c@example.com', body_template: 'Order {{ entity_id }}' },
    testContext(testServices({ smtp: smtp.transport })))
  t.same(rendered, {
    method: 'SMTP',
    url: null,
    headers: { from: 'fastify-observers@localhost', to: 'a@example.com, b@example.com', subject: '[UPDATE] order 42', cc: 'c@example.com' },
    body: 'Order 42'
  })
  t.equal(smtp.connections(), 0)
})
