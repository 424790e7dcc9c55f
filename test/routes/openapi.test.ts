import t from 'tap'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { OPENAPI_FILE, generateOpenApi } from '../../scripts/openapi.js'

t.test('the committed openapi.yaml is what the routes generate (run `npm run openapi` after a route change)', async (t) => {
  const generated = await generateOpenApi()
  const committed = await readFile(OPENAPI_FILE, 'utf8')
  t.ok(generated === committed, 'openapi.yaml is up to date')
})

t.test('every operation has a unique operationId, tags, a summary and its error responses', async (t) => {
  const doc = parse(await generateOpenApi())
  const ids = new Set<string>()
  let operations = 0
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      operations++
      const name = `${method.toUpperCase()} ${path}`
      t.type(op.operationId, 'string', `${name} has an operationId`)
      t.notOk(ids.has(op.operationId), `${name}: operationId ${op.operationId} is unique`)
      ids.add(op.operationId)
      t.ok(Array.isArray(op.tags) && op.tags.length > 0, `${name} has tags`)
      t.type(op.summary, 'string', `${name} has a summary`)
      t.ok(op.responses['500'] !== undefined, `${name} documents 500`)
      const secured = !(Array.isArray(op.security) && op.security.length === 0)
      if (secured) t.ok(op.responses['401'] !== undefined, `${name} documents 401`)
      if (op.requestBody !== undefined) t.ok(op.responses['413'] !== undefined, `${name} documents 413`)
    }
  }
  t.equal(operations, 45, 'every route of the admin API is documented')
  t.same(doc.paths['/observers/runtime/health'].get.security, [], 'health is public')
})
