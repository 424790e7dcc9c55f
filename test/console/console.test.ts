// The operator console in a real headless Chromium (SPEC 9.6): sign in, create an observer through
// the form (after a validation message), watch its delivery arrive, retry a dead letter, read the
// overview's chart data; no console error and no request to another origin; and, with a host's
// access hook answering `read`, no action button and a refusal from the API.
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { build, TOKEN } from '../helper.js'
import { startHttpTarget } from '../helpers/http-target.js'
import { ensureConsoleBuilt, launchChromium, SCREENSHOTS, watch } from './browser.js'

const VIEWS = ['Overview', 'Observers', 'Deliveries', 'Dead letters', 'Blocked keys', 'Endpoints', 'Jobs']
const ACTION_BUTTONS = /^(New observer|Edit|Enable|Disable|Retry|Discard|Retry all|Discard all|Reset|Cancel the job)$/
const WAIT = { timeout: 15_000 }

ensureConsoleBuilt()
mkdirSync(SCREENSHOTS, { recursive: true })
// one browser for the file (a launch takes seconds); each test has its own context
const browser = await launchChromium(t)

/** The controls (and focusable regions) of the page without an accessible name. */
async function unlabelled (page: Page): Promise<string[]> {
  return await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button, a[href], [tabindex="0"]')].filter((el) => {
    const labelledBy = el.getAttribute('aria-labelledby')
    const labels = (el as HTMLInputElement).labels
    const name = el.getAttribute('aria-label') ??
      (labelledBy !== null ? document.getElementById(labelledBy)?.textContent : null) ??
      (labels !== undefined && labels !== null && labels.length > 0 ? labels[0].textContent : null) ??
      (el.tagName === 'BUTTON' || el.tagName === 'A' ? el.textContent : null)
    return (name ?? '').trim() === ''
  }).map((el) => el.outerHTML.slice(0, 120)))
}

/** Each view at desktop and phone width into test/console/screenshots/, checking that nothing is unlabelled or wider than the screen. */
async function screenshots (t: Test, page: Page, prefix: string): Promise<void> {
  for (const [width, height, size] of [[1280, 900, 'desktop'], [390, 844, 'mobile']] as const) {
    await page.setViewportSize({ width, height })
    for (const view of VIEWS) {
      await page.getByRole('link', { name: view, exact: true }).click()
      await page.getByRole('heading', { level: 1, name: view }).waitFor()
      await page.waitForLoadState('networkidle')
      if (size === 'desktop') t.same(await unlabelled(page), [], `every control of ${view} has a name`)
      t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), `${view} fits ${width} px`)
      await page.screenshot({ path: `${SCREENSHOTS}${prefix}-${view.toLowerCase().replace(' ', '-')}-${size}.png`, fullPage: true })
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 })
}

t.test('an operator signs in, creates an observer, sees it deliver and retries a dead letter', async (t) => {
  const target = await startHttpTarget(t)
  let answer = 200
  target.respond = (_req, res) => { res.writeHead(answer).end() }
  const { app, pool, schema } = await build(t, { console: true })
  await pool.query(`create table "${schema}".orders (id serial primary key, total numeric not null)`)
  await app.observers.captures.attach({ schema, table: 'orders', entity_type: 'order' })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  t.equal(address, origin)

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  const watched = watch(page, origin)
  const response = await page.goto(`${origin}/observers/console`)
  t.match(response?.headers()['content-security-policy'], /default-src 'self'/, 'the page comes with its CSP')

  // a wrong token is told plainly; the right one opens the console on the overview
  const tokenInput = page.getByLabel('Admin token')
  t.equal(await tokenInput.getAttribute('type'), 'password')
  await tokenInput.fill('not-the-admin-token-at-all')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('alert').filter({ hasText: 'That admin token was not accepted' }).waitFor(WAIT)
  await tokenInput.fill(TOKEN)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor(WAIT)
  for (const view of VIEWS) t.equal(await page.getByRole('link', { name: view, exact: true }).count(), 1, `a link named ${view}`)
  t.equal(await page.evaluate(() => sessionStorage.getItem('fastify-observers.admin-token')), TOKEN, 'kept for the browser session')

  // from the keyboard: Tab reaches the links with a visible focus ring, Enter opens a view
  let focused = ''
  for (let presses = 0; presses < 12 && focused !== 'Dead letters'; presses++) {
    await page.keyboard.press('Tab')
    focused = await page.evaluate(() => document.activeElement?.textContent ?? '')
  }
  t.equal(focused, 'Dead letters', 'the Dead letters link is reached with Tab')
  t.not(await page.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle), 'none', 'the focus is visible')
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { level: 1, name: 'Dead letters' }).waitFor(WAIT)

  // create: a broken condition is shown at its field, then the fixed form saves
  await page.getByRole('link', { name: 'Observers', exact: true }).click()
  await page.getByRole('button', { name: 'New observer' }).click()
  await page.getByLabel('Name').fill('big orders')
  await page.getByLabel('Entity type').fill('order')
  await page.getByLabel('Event type').selectOption('INSERT')
  const condition = page.getByLabel('Condition')
  await condition.fill('total >= ')
  await page.getByLabel('Actions (JSON)').fill(JSON.stringify([{ type: 'webhook', url: `${target.url}/hook` }]))
  await page.getByLabel('Attempts in all').fill('1')
  await page.getByRole('button', { name: 'Create observer' }).click()
  const conditionError = page.locator('#observer-condition_expression-error')
  await conditionError.waitFor(WAIT)
  t.match(await conditionError.textContent(), /condition_expression/, 'the API\'s message, at the condition')
  t.equal(await condition.getAttribute('aria-invalid'), 'true')
  t.match(await condition.getAttribute('aria-describedby'), /observer-condition_expression-error/, 'the message describes the field')
  await condition.fill('total >= 100')
  await page.getByRole('button', { name: 'Create observer' }).click()
  await page.getByRole('status').filter({ hasText: 'big orders saved.' }).waitFor(WAIT)
  await page.getByRole('rowheader', { name: /big orders/ }).waitFor()
  await page.getByLabel('Search observers').fill('no such thing')
  await page.getByText('No observer matches the search.').waitFor()
  await page.getByLabel('Search observers').fill('big')
  await page.getByRole('rowheader', { name: /big orders/ }).waitFor()

  // a change arrives in the live tail
  await pool.query(`insert into "${schema}".orders (total) values (150)`)
  await target.waitFor(1)
  await page.getByRole('link', { name: 'Deliveries', exact: true }).click()
  const delivered = page.getByRole('row').filter({ hasText: 'order 1' }).filter({ hasText: 'success' })
  await delivered.waitFor(WAIT)
  t.pass('the delivery appeared in the live tail')

  // the dry run against that real event, from the edit form
  await page.getByRole('link', { name: 'Observers', exact: true }).click()
  await page.getByRole('row').filter({ hasText: 'big orders' }).getByRole('button', { name: 'Edit' }).click()
  await page.getByRole('button', { name: 'Find recent events' }).click()
  await page.getByLabel('Recent event').waitFor(WAIT)
  await page.getByRole('button', { name: 'Run the dry run' }).click()
  await page.getByRole('status').filter({ hasText: 'Matches' }).waitFor(WAIT)
  t.match(await page.getByLabel('Rendered requests').textContent(), `${target.url}/hook`, 'the request it would send')
  await page.getByRole('button', { name: 'Cancel' }).click()

  // a dead letter, retried with its Retry button once the endpoint answers again
  answer = 400
  await pool.query(`insert into "${schema}".orders (total) values (220)`)
  await page.getByRole('link', { name: 'Dead letters', exact: true }).click()
  const letter = page.getByRole('row').filter({ hasText: 'order 2' })
  await letter.waitFor(WAIT)
  await letter.getByRole('button', { name: 'Inspect' }).click()
  await page.getByLabel('Last request').waitFor(WAIT)
  t.match(await page.getByLabel('Event', { exact: true }).textContent(), '"total": 220', 'the event, inspected')
  answer = 200
  await letter.getByRole('button', { name: 'Retry' }).click()
  await page.getByRole('status').filter({ hasText: 'Delivered: order 2' }).waitFor(WAIT)
  await letter.waitFor({ state: 'detached', ...WAIT })
  await page.getByText('No dead letter.').waitFor(WAIT)
  t.equal(target.received.filter((r) => r.json?.entity_id === '2').length, 2, 'the failed attempt and the retry reached the endpoint')

  // the overview's chart data has the deliveries of the last seconds
  await page.getByRole('link', { name: 'Overview', exact: true }).click()
  await page.getByText('Deliveries per second: the data').click()
  const table = page.getByRole('table', { name: 'Deliveries per second: the data' })
  await table.waitFor(WAIT)
  const figures = await table.locator('tbody tr td:nth-child(2)').allTextContents()
  t.ok(figures.map(Number).some((n) => n >= 1), `a second with a delivery in the chart's data (${figures.join(', ')})`)
  t.match(await page.locator('#rate-summary').textContent(), /peak over 15 minutes: \d+ per second/)

  // Discard all asks first: Cancel keeps them, confirming discards what the filters select
  answer = 400
  await pool.query(`insert into "${schema}".orders (total) values (300), (400)`)
  await page.getByRole('link', { name: 'Dead letters', exact: true }).click()
  await page.getByRole('row').filter({ hasText: /order (3|4)/ }).nth(1).waitFor(WAIT)
  await page.getByRole('button', { name: 'Discard all' }).click()
  const dialog = page.getByRole('dialog')
  t.match(await dialog.textContent(), 'Discard every dead letter?')
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  t.equal(await page.getByRole('row').filter({ hasText: /order (3|4)/ }).count(), 2, 'Cancel discards nothing')
  await page.getByRole('button', { name: 'Discard all' }).click()
  await dialog.getByRole('button', { name: 'Discard all' }).click()
  await page.getByRole('status').filter({ hasText: 'Discarded 2.' }).waitFor(WAIT)
  await page.getByText('No dead letter.').waitFor(WAIT)

  await screenshots(t, page, 'full')
  t.same(watched.foreign, [], 'no request to another origin')
  t.same(watched.errors, [], 'no error in the browser console')
  t.same(watched.refused, ['401 GET /observers', '400 POST /observers'], 'no refusal but the wrong token and the broken condition')
})

t.test('a host whose access hook answers read: no action button, and the API refuses one', async (t) => {
  const target = await startHttpTarget(t, (_req, res) => { res.writeHead(400).end() })
  // the host's own session decides: a viewer's cookie reads, anything else may act
  const { app, pool, schema } = await build(t, {
    auth: false,
    console: { access: (request) => /(^|; )role=viewer(;|$)/.test(request.headers.cookie ?? '') ? 'read' : 'full' }
  })
  await pool.query(`create table "${schema}".orders (id serial primary key, total numeric not null)`)
  await app.observers.captures.attach({ schema, table: 'orders', entity_type: 'order' })
  const created = await app.inject({
    method: 'POST',
    url: '/observers',
    payload: { name: 'orders out', entity_type: 'order', actions: [{ type: 'webhook', url: `${target.url}/hook` }], retry_config: { max_attempts: 1 } }
  })
  t.equal(created.statusCode, 201, 'the host itself may act')
  await pool.query(`insert into "${schema}".orders (total) values (10)`)
  await target.waitFor(1)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(async () => { await context.close() })
  await context.addCookies([{ name: 'role', value: 'viewer', url: origin }])
  const page = await context.newPage()
  const watched = watch(page, origin)
  await page.goto(`${origin}/observers/console`)
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor(WAIT)
  t.equal(await page.getByLabel('Admin token').count(), 0, 'no sign-in: the host\'s session is enough')
  await page.getByText('Read only').waitFor()

  await page.getByRole('link', { name: 'Observers', exact: true }).click()
  await page.getByRole('rowheader', { name: /orders out/ }).waitFor(WAIT)
  await page.getByRole('link', { name: 'Dead letters', exact: true }).click()
  await page.getByRole('row').filter({ hasText: 'order 1' }).waitFor(WAIT)
  await page.getByRole('button', { name: 'Inspect' }).waitFor()
  for (const view of VIEWS) {
    await page.getByRole('link', { name: view, exact: true }).click()
    await page.getByRole('heading', { level: 1, name: view }).waitFor()
    await page.waitForLoadState('networkidle')
    t.same(await page.getByRole('button', { name: ACTION_BUTTONS }).allTextContents(), [], `no action button in ${view}`)
  }

  const refused = await page.evaluate(async (id) => {
    const answers = []
    for (const [method, path] of [['POST', '/observers/dlq/retry-all'], ['POST', `/observers/${id}/disable`], ['DELETE', `/observers/${id}`]]) {
      const response = await fetch(path, { method, headers: method === 'POST' ? { 'content-type': 'application/json' } : {}, body: method === 'POST' ? '{}' : undefined })
      answers.push({ status: response.status, code: (await response.json()).code })
    }
    return answers
  }, created.json().id)
  t.same(refused, Array(3).fill({ status: 403, code: 'OBS_ERR_CONSOLE_READ_ONLY' }), 'the API refuses actions to a read-only session')
  t.equal((await app.inject({ method: 'GET', url: `/observers/${created.json().id as string}` })).json().enabled, true, 'nothing changed')
  t.same(watched.errors, [], 'no error in the browser console')
  t.same(watched.foreign, [], 'no request to another origin')
})
