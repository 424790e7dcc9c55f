import t from 'tap'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { OPENAPI_FILE } from '../../scripts/openapi.js'
import { AUTH, build } from '../helper.js'
import { constrained, fieldName, operationsOf, requestWith, targetsOf, type Target } from '../helpers/openapi-requests.js'
import { call, createObserver, observerBody } from '../helpers/routes.js'

const describeTarget = (target: Target): string =>
  `${target.operation.method} ${target.operation.path} ${fieldName(target)}${target.key ? ' (a property name)' : ''}`

t.test('every string of every operation in the OpenAPI document refuses a NUL byte and a lone surrogate with a 400 naming it', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const operations = operationsOf(parse(await readFile(OPENAPI_FILE, 'utf8')))
  let walked = 0
  for (const operation of operations) {
    const targets = [...targetsOf(operation)]
    // an operation whose only parameters are numbers (throughput's `seconds`) has no string to walk
    if (operation.parameters.some((p) => !['integer', 'number'].includes((p.schema as { type?: string }).type ?? '')) || operation.body !== undefined) {
      t.ok(targets.length > 0, `${operation.method} ${operation.path} has strings to walk`)
    }
    for (const target of targets) {
      const name = describeTarget(target)
      const texts: Array<[string, string, string]> = [['\u0000', '%00', 'a NUL byte (U+0000)']]
      // JSON can carry a lone surrogate; a URL's UTF-8 cannot (that case is below)
      if (target.in === 'body') texts.push(['\ud800', '', 'a lone UTF-16 surrogate (U+D800)'], ['\udfff', '', 'a lone UTF-16 surrogate (U+DFFF)'])
      for (const [text, encoded, what] of texts) {
        walked++
        const request = requestWith(target, text, encoded)
        const res = await app.inject({ ...request, method: request.method as 'GET', headers: { ...AUTH, ...request.headers } })
        t.equal(res.statusCode, 400, `${name}: ${what}`)
        t.match(res.json(), { statusCode: 400, code: /^OBS_ERR_(VALIDATION|INVALID_ID)$/, error: 'Bad Request', message: String }, name)
        const message: string = res.json().message
        if (constrained(target)) {
          // a uuid, a pattern or an enum refuses the text first, naming the same field
          t.ok(message.includes(`${fieldName(target)} `), `${name}: ${message}`)
        } else {
          const expected = target.key ? `must not have a property name containing ${what}` : `must not contain ${what}`
          t.equal(message, `${fieldName(target)} ${expected}`, name)
        }
      }
      if (target.in !== 'body') {
        // %ED%A0%80 would be U+D800 in UTF-8, which has no surrogates: never a 5xx
        const request = requestWith(target, '', '%ED%A0%80')
        const res = await app.inject({ ...request, method: request.method as 'GET', headers: { ...AUTH, ...request.headers } })
        t.ok(res.statusCode < 500, `${name}: an encoded surrogate answers ${res.statusCode}`)
      }
    }
  }
  t.ok(walked > 150, `${walked} requests over ${operations.length} operations`)
  const stored = await pool.query(`select (select count(*) from "${schema}".tb_observer)::int as observers,
    (select count(*) from "${schema}".observer_checkpoints)::int as checkpoints`)
  t.same(stored.rows[0], { observers: 0, checkpoints: 0 }, 'no refused request stored anything')
})

t.test('actions, templates and row images are checked at any depth, property names too', async (t) => {
  const { app, pool, schema } = await build(t, { runtime: { start: false } })
  const webhook = { type: 'webhook', url: 'https://example.com/hook' }
  const cases: Array<[string, unknown, string]> = [
    ['', observerBody({ actions: [{ ...webhook, url: 'https://example.com/\u0000' }] }), 'body/actions/0/url must not contain a NUL byte (U+0000)'],
    ['', observerBody({ actions: [{ type: 'log' }, { ...webhook, body_template: '{"id": "{{ entity_id }}\ud83d"}' }] }),
      'body/actions/1/body_template must not contain a lone UTF-16 surrogate (U+D83D)'],
    ['', observerBody({ actions: [{ ...webhook, headers: { 'x-a\u0000': 'v' } }] }),
      'body/actions/0/headers must not have a property name containing a NUL byte (U+0000)'],
    ['', observerBody({ actions: [{ type: 'database', function_name: 'f', params: { a: [{ b: 'c\u0000' }] } }] }),
      'body/actions/0/params/a/0/b must not contain a NUL byte (U+0000)'],
    ['', observerBody({ condition_expression: "data.status == 'x\u0000'" }), 'body/condition_expression must not contain a NUL byte (U+0000)'],
    ['/test', { observer: observerBody(), event: { event_type: 'INSERT', entity_type: 'orders', data: { 'a/b': { '\udc00': 1 } } } },
      'body/event/data/a~1b must not have a property name containing a lone UTF-16 surrogate (U+DC00)']
  ]
  for (const [url, body, message] of cases) {
    const res = await call(app, 'POST', url, JSON.stringify(body), { 'content-type': 'application/json' })
    t.equal(res.statusCode, 400, message)
    t.same(res.json(), { statusCode: 400, code: 'OBS_ERR_VALIDATION', error: 'Bad Request', message })
  }
  const observer = await createObserver(app, { actions: [webhook] })
  const patch = await call(app, 'PATCH', `/${observer.id}`, { actions: [{ ...webhook, headers: { 'x-a': 'v\u0000' } }] })
  t.equal(patch.json().message, 'body/actions/0/headers/x-a must not contain a NUL byte (U+0000)')
  const count = await pool.query(`select count(*)::int as n from "${schema}".tb_observer`)
  t.equal(count.rows[0].n, 1, 'only the valid observer was stored')
})

t.test('text PostgreSQL can store is kept exactly, however unusual', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const text = 'emoji 😀, U+FFFD \ufffd, control \u0001, a NUL written out \\u0000, nul %00'
  // a template may write NUL as a JSON escape: the stored text is the six characters
  const template = '{"note": "😀 \\u0000 \ufffd", "id": {{ entity_id }}}'
  const created = await createObserver(app, {
    description: text,
    entity_type: '注文',
    actions: [{ type: 'webhook', url: 'https://example.com/hook', headers: { 'x-note': '😀' }, body_template: template }]
  })
  const read = (await call(app, 'GET', `/${created.id}`)).json()
  t.equal(read.description, text)
  t.equal(read.actions[0].body_template, template)
  const listed = await call(app, 'GET', `?entity_type=${encodeURIComponent('注文')}`)
  t.same(listed.json().data.map((o: { id: string }) => o.id), [created.id])
})

t.test('nesting deeper than 100 levels is a 400 naming where it starts, not a 500', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const nested = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
  for (const depth of [200, 20_000]) {
    const body = `{"name":"deep","actions":[{"type":"database","function_name":"f","params":${nested(depth)}}]}`
    const res = await call(app, 'POST', '', body, { 'content-type': 'application/json' })
    t.equal(res.statusCode, 400, `${depth} levels`)
    t.same(res.json(), {
      statusCode: 400,
      code: 'OBS_ERR_VALIDATION',
      error: 'Bad Request',
      message: 'body/actions/0/params/a/a/a/a/a/… must not be nested deeper than 100 levels'
    })
  }
  const fine = `{"name":"deep","actions":[{"type":"database","function_name":"f","params":${nested(90)}}]}`
  t.equal((await call(app, 'POST', '', fine, { 'content-type': 'application/json' })).statusCode, 201, '90 levels are stored')
})

t.test('inputs PostgreSQL would refuse are refused by the schema with a 400 naming the field', async (t) => {
  const { app } = await build(t, { runtime: { start: false } })
  const cases: Array<[string, string]> = [
    // a JavaScript Date cannot hold a leap second
    ['/logs?since=2016-12-31T23:59:60Z', 'querystring/since must have seconds from 00 to 59 (leap seconds are not supported)'],
    ['/logs?until=2016-12-31T23:59:60Z', 'querystring/until must have seconds from 00 to 59 (leap seconds are not supported)'],
    ['/stats?since=2016-12-31T23:59:60Z', 'querystring/since must have seconds from 00 to 59 (leap seconds are not supported)'],
    // its offset would not fit a bigint
    ['?page=100000000000000000000', 'querystring/page must be <= 1000000']
  ]
  for (const [url, message] of cases) {
    const res = await call(app, 'GET', url)
    t.equal(res.statusCode, 400, url)
    t.same(res.json(), { statusCode: 400, code: 'OBS_ERR_VALIDATION', error: 'Bad Request', message })
  }
  t.equal((await call(app, 'GET', '/logs?since=2016-12-31T23:59:59.999Z')).statusCode, 200)
  t.equal((await call(app, 'GET', '?page=1000000')).statusCode, 200)
})
