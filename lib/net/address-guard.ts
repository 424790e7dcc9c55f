// SSRF guard: which addresses an action may connect to. Checked twice: literal hosts when an observer
// is saved and before sending, resolved addresses inside the socket's own DNS lookup, so the address
// that was checked is the address connected to (no window for a second, rebinding answer).
import { isIP } from 'node:net'
import { promises as dnsPromises } from 'node:dns'
import type { LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'

/** Resolves a host name to every address it has (default: `dns.promises.lookup` with `all: true`). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>

export const defaultResolver: Resolver = (hostname) => dnsPromises.lookup(hostname, { all: true, verbatim: true })

/** Thrown (or passed to the lookup callback) when an address is refused; a permanent failure. */
export class SsrfBlockedError extends Error {
  readonly code = 'SSRF_BLOCKED'
  constructor (message: string) {
    super(message)
    this.name = 'SsrfBlockedError'
  }
}

type Range4 = [base: number, bits: number, name: string]

const v4 = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0

// Most specific first: the first match names the reason.
const RANGES_V4: Range4[] = [
  [v4(169, 254, 169, 254), 32, 'cloud metadata'],
  [v4(100, 100, 100, 200), 32, 'cloud metadata'],
  [v4(255, 255, 255, 255), 32, 'broadcast'],
  [v4(0, 0, 0, 0), 8, 'unspecified (0.0.0.0/8)'],
  [v4(10, 0, 0, 0), 8, 'private (10.0.0.0/8)'],
  [v4(100, 64, 0, 0), 10, 'carrier-grade NAT (100.64.0.0/10)'],
  [v4(127, 0, 0, 0), 8, 'loopback (127.0.0.0/8)'],
  [v4(169, 254, 0, 0), 16, 'link-local (169.254.0.0/16)'],
  [v4(172, 16, 0, 0), 12, 'private (172.16.0.0/12)'],
  [v4(192, 0, 0, 0), 24, 'reserved (192.0.0.0/24)'],
  [v4(192, 0, 2, 0), 24, 'documentation (192.0.2.0/24)'],
  [v4(192, 168, 0, 0), 16, 'private (192.168.0.0/16)'],
  [v4(198, 18, 0, 0), 15, 'benchmarking (198.18.0.0/15)'],
  [v4(198, 51, 100, 0), 24, 'documentation (198.51.100.0/24)'],
  [v4(203, 0, 113, 0), 24, 'documentation (203.0.113.0/24)'],
  [v4(224, 0, 0, 0), 4, 'multicast (224.0.0.0/4)'],
  [v4(240, 0, 0, 0), 4, 'reserved (240.0.0.0/4)']
]

function parseV4 (ip: string): number {
  const [a, b, c, d] = ip.split('.').map(Number)
  return v4(a, b, c, d)
}

function classifyV4 (n: number): string | null {
  for (const [base, bits, name] of RANGES_V4) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
    if (((n & mask) >>> 0) === base) return name
  }
  return null
}

/** 8 groups of 16 bits; `ip` must already satisfy `isIP(ip) === 6`. */
function parseV6 (ip: string): number[] {
  let text = ip.split('%')[0] // zone id (fe80::1%eth0) does not change the range
  // A dotted IPv4 tail (::ffff:127.0.0.1) is the same 32 bits as two hex groups (::ffff:7f00:1).
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/)
  if (dotted) {
    const n = parseV4(dotted[1])
    text = text.slice(0, -dotted[1].length) + (n >>> 16).toString(16) + ':' + (n & 0xffff).toString(16)
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined]
  const hex = (s: string): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : [])
  const left = hex(head)
  const right = hex(rest ?? '')
  const zeros = rest === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0)
  return [...left, ...zeros, ...right]
}

function embeddedV4 (g: number[]): number {
  return ((g[6] << 16) | g[7]) >>> 0
}

function classifyV6 (g: number[]): string | null {
  const zeroUpTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0)
  if (zeroUpTo(8)) return 'unspecified (::)'
  if (zeroUpTo(7) && g[7] === 1) return 'loopback (::1)'
  // Forms that carry an IPv4 address: judge the IPv4 address they lead to.
  if (zeroUpTo(5) && g[5] === 0xffff) return embedded('IPv4-mapped', embeddedV4(g))
  if (zeroUpTo(6)) return embedded('IPv4-compatible', embeddedV4(g))
  if (g[0] === 0x64 && g[1] === 0xff9b && (g[2] === 1 || g.slice(2, 6).every((x) => x === 0))) return embedded('NAT64', embeddedV4(g))
  if (g[0] === 0x2002) return embedded('6to4', ((g[1] << 16) | g[2]) >>> 0)
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && g.slice(2, 7).every((x) => x === 0) && g[7] === 0x254) return 'cloud metadata'
  if ((g[0] & 0xfe00) === 0xfc00) return 'private (fc00::/7)'
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local (fe80::/10)'
  if ((g[0] & 0xffc0) === 0xfec0) return 'site-local (fec0::/10)'
  if ((g[0] & 0xff00) === 0xff00) return 'multicast (ff00::/8)'
  if (g[0] === 0x2001 && g[1] === 0x0db8) return 'documentation (2001:db8::/32)'
  if (g[0] === 0x0100 && zeroUpTo(4)) return 'discard-only (100::/64)'
  return null
}

function embedded (form: string, n: number): string | null {
  const inner = classifyV4(n)
  return inner === null ? null : `${form} ${inner}`
}

/** The blocked range an IP literal falls in, or null when it is a public address (or not an IP). */
export function classifyAddress (ip: string): string | null {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  const family = isIP(bare)
  if (family === 4) return classifyV4(parseV4(bare))
  if (family === 6) return classifyV6(parseV6(bare))
  return null
}

function isLocalhostName (hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '')
  return name === 'localhost' || name.endsWith('.localhost')
}

/**
 * Why a host may not be contacted without resolving it (literal address or `localhost`), or null.
 * Host names that need DNS are left to `createGuardedLookup`.
 */
export function checkHostLiteral (hostname: string): string | null {
  if (isLocalhostName(hostname)) return `host '${hostname}' is loopback (localhost)`
  const reason = classifyAddress(hostname)
  return reason === null ? null : `address ${hostname.replace(/^\[|\]$/g, '')} is ${reason}`
}

/**
 * Save-time check of an action URL: must parse, use http(s), carry no credentials (they would be
 * stored and shown unredacted; put them in a header) and, unless `allowPrivate`, not name a
 * private/loopback/metadata address literally. Returns the problem or null.
 */
export function checkUrlLiteral (url: string, allowPrivate = false): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'must be a URL'
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `must use http or https, not ${parsed.protocol.slice(0, -1)}`
  if (parsed.username !== '' || parsed.password !== '') return 'must not contain credentials; send them in a header instead'
  if (allowPrivate) return null
  const reason = checkHostLiteral(parsed.hostname)
  return reason === null ? null : `refused: ${reason}`
}

function refusal (hostname: string, addresses: LookupAddress[]): SsrfBlockedError | null {
  for (const { address } of addresses) {
    const reason = classifyAddress(address)
    if (reason !== null) return new SsrfBlockedError(`refused: ${hostname} resolves to ${address}, which is ${reason}`)
  }
  return null
}

/**
 * A `dns.lookup`-compatible function for `net.connect`/`tls.connect`: resolves with `resolve`,
 * refuses the host when ANY of its addresses is blocked (an attacker controlling DNS could otherwise
 * order a private address after a public one), and hands back only addresses it checked.
 */
export function createGuardedLookup (resolve: Resolver = defaultResolver): LookupFunction {
  return (hostname, options, callback) => {
    // then(ok, fail), not then().catch(): a throw inside the callback must not call it twice.
    resolve(hostname).then((addresses) => {
      const problem = refusal(hostname, addresses)
      const usable = options.family === 4 || options.family === 6
        ? addresses.filter((a) => a.family === options.family)
        : addresses
      if (problem === null && usable.length === 0) {
        callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '', 0)
      } else if (problem !== null) callback(problem, '', 0)
      else if (options.all === true) callback(null, usable)
      else callback(null, usable[0].address, usable[0].family)
    }, (err: NodeJS.ErrnoException) => callback(err, '', 0))
  }
}

/** The guard over the system resolver, for `connect: { lookup }` options. */
export const guardedLookup: LookupFunction = createGuardedLookup()
