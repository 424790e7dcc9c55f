import t from 'tap'
import { connect, createServer } from 'node:net'
import { once } from 'node:events'
import type { LookupAddress } from 'node:dns'
import { checkHostLiteral, checkUrlLiteral, classifyAddress, createGuardedLookup } from '../../lib/net/address-guard.js'

t.test('blocked IPv4 ranges are named', async t => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1', 'loopback (127.0.0.0/8)'],
    ['127.255.0.9', 'loopback (127.0.0.0/8)'],
    ['10.1.2.3', 'private (10.0.0.0/8)'],
    ['172.16.0.1', 'private (172.16.0.0/12)'],
    ['172.31.255.255', 'private (172.16.0.0/12)'],
    ['192.168.1.1', 'private (192.168.0.0/16)'],
    ['169.254.1.1', 'link-local (169.254.0.0/16)'],
    ['169.254.169.254', 'cloud metadata'],
    ['100.100.100.200', 'cloud metadata'],
    ['100.64.0.1', 'carrier-grade NAT (100.64.0.0/10)'],
    ['100.127.255.255', 'carrier-grade NAT (100.64.0.0/10)'],
    ['224.0.0.1', 'multicast (224.0.0.0/4)'],
    ['239.255.255.250', 'multicast (224.0.0.0/4)'],
    ['0.0.0.0', 'unspecified (0.0.0.0/8)'],
    ['0.1.2.3', 'unspecified (0.0.0.0/8)'],
    ['198.18.0.1', 'benchmarking (198.18.0.0/15)'],
    ['198.19.255.255', 'benchmarking (198.18.0.0/15)'],
    ['240.0.0.1', 'reserved (240.0.0.0/4)'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.10', 'documentation (192.0.2.0/24)']
  ]
  for (const [ip, reason] of cases) t.equal(classifyAddress(ip), reason, ip)
})

t.test('blocked IPv6 ranges, including forms that carry an IPv4 address', async t => {
  const cases: Array<[string, string]> = [
    ['::1', 'loopback (::1)'],
    ['::', 'unspecified (::)'],
    ['fc00::1', 'private (fc00::/7)'],
    ['fd12:3456::1', 'private (fc00::/7)'],
    ['fe80::1', 'link-local (fe80::/10)'],
    ['fe80::1%eth0', 'link-local (fe80::/10)'],
    ['febf::1', 'link-local (fe80::/10)'],
    ['ff02::1', 'multicast (ff00::/8)'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback (127.0.0.0/8)'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback (127.0.0.0/8)'],
    ['::ffff:169.254.169.254', 'IPv4-mapped cloud metadata'],
    ['::127.0.0.1', 'IPv4-compatible loopback (127.0.0.0/8)'],
    ['64:ff9b::a00:1', 'NAT64 private (10.0.0.0/8)'],
    ['64:ff9b::127.0.0.1', 'NAT64 loopback (127.0.0.0/8)'],
    ['64:ff9b:1::a00:1', 'NAT64 private (10.0.0.0/8)'],
    ['2002:c0a8:101::1', '6to4 private (192.168.0.0/16)'],
    ['[::1]', 'loopback (::1)']
  ]
  for (const [ip, reason] of cases) t.equal(classifyAddress(ip), reason, ip)
})

t.test('public addresses and names pass', async t => {
  for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '100.128.0.1', '100.63.255.255', '198.20.0.1',
    '223.255.255.255', '2606:4700:4700::1111', '2001:4860:4860::8888', '64:ff9b::808:808', '::ffff:8.8.8.8', 'example.com']) {
    t.equal(classifyAddress(ip), null, ip)
  }
})

t.test('checkUrlLiteral: save-time refusals name the reason', async t => {
  t.equal(checkUrlLiteral('http://127.0.0.1:8080/hook'), 'refused: address 127.0.0.1 is loopback (127.0.0.0/8)')
  t.equal(checkUrlLiteral('http://169.254.169.254/latest/meta-data'), 'refused: address 169.254.169.254 is cloud metadata')
  t.equal(checkUrlLiteral('http://[::ffff:127.0.0.1]/'), 'refused: address ::ffff:7f00:1 is IPv4-mapped loopback (127.0.0.0/8)')
  t.equal(checkUrlLiteral('http://[fd00:ec2::254]/'), 'refused: address fd00:ec2::254 is cloud metadata')
  t.equal(checkUrlLiteral('http://localhost:3000/'), "refused: host 'localhost' is loopback (localhost)")
  t.equal(checkUrlLiteral('http://api.LOCALHOST./'), "refused: host 'api.localhost.' is loopback (localhost)")
  // WHATWG URL parsing turns these spellings into 127.0.0.1, and so does the HTTP client.
  t.equal(checkUrlLiteral('http://2130706433/'), 'refused: address 127.0.0.1 is loopback (127.0.0.0/8)')
  t.equal(checkUrlLiteral('http://0x7f.1/'), 'refused: address 127.0.0.1 is loopback (127.0.0.0/8)')
  t.equal(checkUrlLiteral('ftp://example.com/x'), 'must use http or https, not ftp')
  t.equal(checkUrlLiteral('file:///etc/passwd'), 'must use http or https, not file')
  t.equal(checkUrlLiteral('not a url'), 'must be a URL')
  t.equal(checkUrlLiteral('https://user:pass@example.com/'), 'must not contain credentials; send them in a header instead')
  t.equal(checkUrlLiteral('https://hooks.example.com/in?x=1'), null)
  t.equal(checkUrlLiteral('https://localhost.example.com/'), null, 'a real domain that merely starts with localhost')
})

t.test('allowPrivate lifts the address checks but not the URL rules', async t => {
  t.equal(checkUrlLiteral('http://127.0.0.1:8080/', true), null)
  t.equal(checkUrlLiteral('http://localhost/', true), null)
  t.equal(checkUrlLiteral('ftp://127.0.0.1/', true), 'must use http or https, not ftp')
  t.equal(checkUrlLiteral('http://u:p@127.0.0.1/', true), 'must not contain credentials; send them in a header instead')
})

t.test('checkHostLiteral leaves names that need DNS to the lookup', async t => {
  t.equal(checkHostLiteral('internal.example.test'), null)
  t.equal(checkHostLiteral('[::1]'), 'address ::1 is loopback (::1)')
})

type LookupResult = { err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number }

function lookupWith (resolve: (host: string) => Promise<LookupAddress[]>, host: string, options: { all?: boolean, family?: number }): Promise<LookupResult> {
  const lookup = createGuardedLookup(resolve)
  return new Promise((resolve) => {
    lookup(host, options, (err, address, family) => resolve({ err, address, family }))
  })
}

t.test('guarded lookup hands back only checked addresses', async t => {
  const resolve = async () => [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }]
  const single = await lookupWith(resolve, 'example.com', {})
  t.same(single, { err: null, address: '93.184.216.34', family: 4 })
  const all = await lookupWith(resolve, 'example.com', { all: true })
  t.same(all.address, [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }])
  const v6 = await lookupWith(resolve, 'example.com', { family: 6 })
  t.same(v6, { err: null, address: '2606:2800:220:1::1', family: 6 })
})

t.test('guarded lookup refuses a host when any of its addresses is blocked', async t => {
  const resolve = async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.5', family: 4 }]
  const { err } = await lookupWith(resolve, 'internal.example.test', { all: true })
  t.equal(err?.code, 'SSRF_BLOCKED')
  t.equal(err?.message, 'refused: internal.example.test resolves to 10.0.0.5, which is private (10.0.0.0/8)')
})

t.test('guarded lookup checks every resolution, so a rebinding answer is caught', async t => {
  const answers = [[{ address: '93.184.216.34', family: 4 }], [{ address: '127.0.0.1', family: 4 }]]
  const resolve = async () => answers.shift() ?? []
  const lookup = createGuardedLookup(resolve)
  const call = () => new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('rebind.example.test', {}, (err) => resolve(err)))
  t.equal(await call(), null, 'first answer is public')
  t.equal((await call())?.code, 'SSRF_BLOCKED', 'second answer is loopback and refused')
})

t.test('guarded lookup passes resolver errors through', async t => {
  const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), { code: 'ENOTFOUND' })
  const { err } = await lookupWith(async () => { throw notFound }, 'nowhere.test', {})
  t.equal(err, notFound)
  const empty = await lookupWith(async () => [{ address: '93.184.216.34', family: 4 }], 'v4only.test', { family: 6 })
  t.equal(empty.err?.code, 'ENOTFOUND', 'no address of the asked family')
})

t.test('a socket using the guarded lookup never connects to a refused address', async t => {
  let connections = 0
  const server = createServer((socket) => { connections++; socket.destroy() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const { port } = server.address() as { port: number }
  const socket = connect({ host: 'sneaky.example.test', port, lookup: createGuardedLookup(async () => [{ address: '127.0.0.1', family: 4 }]) })
  const [err] = await once(socket, 'error') as [NodeJS.ErrnoException]
  t.equal(err.code, 'SSRF_BLOCKED')
  t.match(err.message, /sneaky\.example\.test resolves to 127\.0\.0\.1, which is loopback/)
  t.equal(connections, 0)
})
