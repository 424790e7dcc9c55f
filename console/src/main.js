// The operator console (SPEC 9.6): sign-in, the navigation and one view at a time, chosen by the
// URL's hash so that the server serves a single page.
import 'uplot/dist/uPlot.min.css'
import './style.css'
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, apiBase, token, whenUnauthorized } from './api.js'
import { ErrorNote } from './components.js'
import { html } from './html.js'
import { BlockedKeys } from './views/blocked-keys.js'
import { DeadLetters } from './views/dead-letters.js'
import { Deliveries } from './views/deliveries.js'
import { Endpoints } from './views/endpoints.js'
import { Jobs } from './views/jobs.js'
import { Observers } from './views/observers.js'
import { Overview } from './views/overview.js'

const VIEWS = [
  { path: 'overview', name: 'Overview', view: Overview },
  { path: 'observers', name: 'Observers', view: Observers },
  { path: 'deliveries', name: 'Deliveries', view: Deliveries },
  { path: 'dead-letters', name: 'Dead letters', view: DeadLetters },
  { path: 'blocked-keys', name: 'Blocked keys', view: BlockedKeys },
  { path: 'endpoints', name: 'Endpoints', view: Endpoints },
  { path: 'jobs', name: 'Jobs', view: Jobs }
]

const currentPath = () => location.hash.replace(/^#\/?/, '').split('/')[0] || 'overview'

function useHashPath () {
  const [path, setPath] = useState(currentPath())
  useEffect(() => {
    const changed = () => setPath(currentPath())
    addEventListener('hashchange', changed)
    return () => removeEventListener('hashchange', changed)
  }, [])
  return path
}

function SignIn ({ message, onSignedIn }) {
  const [value, setValue] = useState('')
  const [error, setError] = useState(message)
  const [busy, setBusy] = useState(false)
  const submit = async (e) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    token.set(value.trim())
    try {
      await api('GET', '?page_size=1')
      onSignedIn()
    } catch (err) {
      token.clear()
      setError(err instanceof ApiError && err.status === 401
        ? new Error('That admin token was not accepted. Check it (npm start prints it, or OBSERVERS_ADMIN_TOKEN sets it) and try again.')
        : err)
    } finally {
      setBusy(false)
    }
  }
  return html`
    <main class="sign-in">
      <h1>Observers console</h1>
      <form onSubmit=${submit}>
        <label for="admin-token">Admin token</label>
        <input id="admin-token" type="password" autocomplete="current-password" required value=${value}
          onInput=${(e) => setValue(e.currentTarget.value)} aria-describedby="admin-token-help" />
        <p id="admin-token-help" class="help">Kept for this browser session only.</p>
        <${ErrorNote} error=${error} />
        <button type="submit" disabled=${busy}>Sign in</button>
      </form>
    </main>`
}

function Shell ({ session, onSignOut }) {
  const path = useHashPath()
  const current = VIEWS.find((v) => v.path === path) ?? VIEWS[0]
  const canAct = session.access === 'full'
  useEffect(() => { document.title = `${current.name} · Observers console` }, [current])
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus() }}>Skip to the content</a>
    <header class="top">
      <p class="brand">Observers console</p>
      <nav aria-label="Views">
        <ul>
          ${VIEWS.map((v) => html`<li><a href=${`#/${v.path}`} aria-current=${v === current ? 'page' : undefined}>${v.name}</a></li>`)}
        </ul>
      </nav>
      <div class="who">
        ${!canAct && html`<span class="badge" title="This session may look but not act">Read only</span>`}
        ${session.sign_in && html`<button type="button" class="link" onClick=${onSignOut}>Sign out</button>`}
      </div>
    </header>
    <main id="main" tabindex="-1">
      <h1>${current.name}</h1>
      <${current.view} canAct=${canAct} session=${session} />
    </main>`
}

function App () {
  const [session, setSession] = useState(null)
  const [problem, setProblem] = useState(null)
  const [signedIn, setSignedIn] = useState(token.get() !== null)
  const [signInMessage, setSignInMessage] = useState(null)
  useEffect(() => {
    whenUnauthorized(() => {
      token.clear()
      setSignInMessage(new Error('The admin API asked for an admin token: sign in again.'))
      setSignedIn(false)
    })
    fetch(`${apiBase}/console/session`, { credentials: 'same-origin', cache: 'no-store' })
      .then(async (r) => {
        const body = await r.json()
        if (!r.ok) throw new Error(body.message ?? `the server answered ${r.status}`)
        setSession(body)
      })
      .catch(setProblem)
  }, [])
  if (problem !== null) return html`<main><h1>Observers console</h1><${ErrorNote} error=${problem} /></main>`
  if (session === null) return html`<p class="loading" role="status">Loading the console…</p>`
  if (session.sign_in && !signedIn) {
    return html`<${SignIn} message=${signInMessage} onSignedIn=${() => { setSignInMessage(null); setSignedIn(true) }} />`
  }
  const signOut = () => { token.clear(); setSignedIn(false) }
  return html`<${Shell} session=${session} onSignOut=${signOut} />`
}

render(html`<${App} />`, document.getElementById('app'))
