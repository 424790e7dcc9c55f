// `npm run openapi`: writes openapi.yaml from the route schemas; `--check` exits 1 when the
// committed file differs (CI and test/routes/openapi.test.ts use the same generator).
// Registering the routes needs no database: migrations are off and the runtime does not start,
// so the pool below is never connected.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import { stringify } from 'yaml'
import observerPlugin from '../index.js'
import { swaggerOptions } from '../server/openapi.js'

export const OPENAPI_FILE = fileURLToPath(new URL('../openapi.yaml', import.meta.url))

const HEADER = '# Generated from the route schemas by `npm run openapi`; do not edit by hand.\n'

/** The OpenAPI document of the admin API, as YAML. */
export async function generateOpenApi (): Promise<string> {
  const app = Fastify({ logger: false })
  try {
    await app.register(swagger, swaggerOptions)
    await app.register(observerPlugin, {
      connectionString: 'postgres://unused@127.0.0.1:1/unused',
      migrate: false,
      auth: { tokens: ['openapi-generation-only-token'] },
      runtime: { start: false }
    })
    await app.ready()
    return HEADER + stringify(app.swagger(), { lineWidth: 0, aliasDuplicateObjects: false })
  } finally {
    await app.close()
  }
}

async function main (): Promise<void> {
  const generated = await generateOpenApi()
  if (process.argv.includes('--check')) {
    const committed = await readFile(OPENAPI_FILE, 'utf8').catch(() => '')
    if (committed !== generated) {
      console.error('openapi.yaml is out of date: run `npm run openapi` and commit the result')
      process.exit(1)
    }
    console.log('openapi.yaml is up to date')
    return
  }
  await writeFile(OPENAPI_FILE, generated)
  console.log(`wrote ${OPENAPI_FILE}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
