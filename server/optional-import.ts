// Packages that only the standalone server, the tests and the bench use are dev dependencies: a host
// application that installs the plugin never gets them. They are imported when needed, and their
// absence is told as a StartFailedError naming the package and what it is for.
import { StartFailedError } from '../lib/errors.js'

/** `load` is `() => import(name)`, written out so that the server's bundle can include the package. */
export async function importOptional<T> (name: string, purpose: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (err) {
    const e = err as { code?: string, message?: string }
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message?.includes(`'${name}'`) === true) {
      throw new StartFailedError(`${name} (${purpose}) is not installed: run \`npm install\` in the repository (it is a dev dependency)`)
    }
    throw err
  }
}
