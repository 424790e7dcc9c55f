// The console's browser tests: its files built when stale, and a real headless Chromium (Debian's
// `chromium`, installed by .ci/run) driven by playwright-core, closed at teardown.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))
export const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url))

/** Builds console/dist when a source is newer (as `npm start` and `npm test` do), for a file run by tap alone. */
export function ensureConsoleBuilt (): void {
  const result = spawnSync(process.execPath, ['scripts/build-console.js', '--if-stale'], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) throw new Error('could not build the console (see above)')
}

/** Chromium, closed at teardown; playwright gives it a fresh user-data-dir of its own and removes it. */
export async function launchChromium (t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
  t.teardown(async () => { await browser.close() })
  return browser
}

export interface Watched {
  /** console errors and uncaught exceptions of the page, but Chromium's line for each refused request */
  errors: string[]
  /** requests to any origin but the app's */
  foreign: string[]
  /** `<status> <method> <path>` of each answer >= 400: a test lists the refusals it caused, and no other */
  refused: string[]
}

/** Records what the page must never do: log an error, throw, or reach another origin. */
export function watch (page: Page, origin: string): Watched {
  const watched: Watched = { errors: [], foreign: [], refused: [] }
  page.on('console', (message) => {
    // Chromium logs every 4xx/5xx answer to a fetch; those are counted in `refused` instead
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server responded with a status of')) watched.errors.push(message.text())
  })
  page.on('response', (response) => {
    if (response.status() >= 400) watched.refused.push(`${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`)
  })
  page.on('pageerror', (err) => watched.errors.push(err.message))
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.protocol !== 'data:' && url.origin !== origin) watched.foreign.push(request.url())
  })
  return watched
}
