// The admin API as the console calls it: same origin, under the prefix the page was served from,
// with the admin token (kept for this browser session) as a bearer token when there is one.
const TOKEN_KEY = 'fastify-observers.admin-token'

/** The admin API's prefix: the page lives at `<prefix>/console`. */
export const apiBase = location.pathname.replace(/\/console\/?$/, '')

export class ApiError extends Error {
  constructor (status, body) {
    super(body?.message ?? `the server answered ${status}`)
    this.status = status
    this.code = body?.code ?? null
  }
}

let onUnauthorized = () => {}
/** Called when a request is refused for want of a (valid) token. */
export function whenUnauthorized (fn) { onUnauthorized = fn }

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY)
}

export async function api (method, path, body) {
  const headers = { accept: 'application/json' }
  const bearer = token.get()
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  // with an empty prefix the list of observers is `/`, not the page's own URL
  const url = `${apiBase}${path}`
  const response = await fetch(url.startsWith('/') ? url : `/${url}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store'
  })
  if (response.status === 204) return null
  const data = await response.json().catch(() => null)
  if (!response.ok) {
    const error = new ApiError(response.status, data)
    if (response.status === 401) onUnauthorized(error)
    throw error
  }
  return data
}

/** `?a=1&b=2` from the entries whose value is set. */
export function query (params) {
  const q = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') q.set(key, String(value))
  const text = q.toString()
  return text === '' ? '' : `?${text}`
}
