// `npm test`: runs tap against DATABASE_URL, or against a throwaway embedded PostgreSQL started here.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { mismatchedCoverage } from './coverage-guard.js'
import { runCommand, withPostgres } from './with-postgres.js'

// the console's files, which the standalone server and the console's tests serve (a second when stale)
const built = spawnSync(process.execPath, [join('scripts', 'build-console.js'), '--if-stale'], { stdio: 'inherit' })
if (built.status !== 0) process.exit(built.status ?? 1)

const args = process.argv.slice(2)
// the coverage thresholds are the whole suite's: `npm test -- <some files>` passes when its tests do
if (args.some((arg) => !arg.startsWith('-'))) args.unshift('--allow-incomplete-coverage')
const status = await withPostgres('npm test', async (env) => await runCommand(join('node_modules', '.bin', 'tap'), args, env))
const mismatched = mismatchedCoverage()
for (const line of mismatched) console.error(`npm test: coverage report unreliable: ${line}`)
process.exit(mismatched.length > 0 ? 1 : status)
