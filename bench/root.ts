// Where the bench runs from. By default the bench compiles itself and the plugin with tsc into a
// temporary folder and runs that with plain node (bench/run.ts); paths to the repository (results,
// profiles) must then still point at the repository, not at the compiled copy.
import { fileURLToPath } from 'node:url'

/** true in the compiled copy (plain node), false when the sources run through tsx */
export const RUNNING_COMPILED = import.meta.url.endsWith('.js')

export const ROOT_ENV = 'OBSERVERS_BENCH_ROOT'

/** the repository's root folder */
export const ROOT = process.env[ROOT_ENV] ?? fileURLToPath(new URL('../', import.meta.url))
