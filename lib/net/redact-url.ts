// A URL as spans and the execution log may show it: what may be secret is taken out.

export const REDACTED_PART = 'REDACTED'

/**
 * The URL without what may be secret: credentials become `REDACTED:REDACTED@`, every query value
 * `REDACTED` (webhook URLs often carry their token there), the fragment is dropped, and with
 * `secretPath` (a Slack webhook's path is its token) the path and query are `/REDACTED`.
 */
export function redactUrl (url: URL, secretPath = false): string {
  const credentials = url.username !== '' || url.password !== '' ? `${REDACTED_PART}:${REDACTED_PART}@` : ''
  if (secretPath) return `${url.protocol}//${credentials}${url.host}/${REDACTED_PART}`
  let query = ''
  if (url.search !== '') {
    query = '?' + [...url.searchParams.keys()].map((key) => `${encodeURIComponent(key)}=${REDACTED_PART}`).join('&')
  }
  return `${url.protocol}//${credentials}${url.host}${url.pathname}${query}`
}

/** `url` redacted, or `REDACTED` when it does not parse. */
export function redactUrlText (url: string, secretPath = false): string {
  try {
    return redactUrl(new URL(url), secretPath)
  } catch {
    return REDACTED_PART
  }
}
