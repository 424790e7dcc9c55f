import globals from 'globals'
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'build/**', 'node_modules/**', 'coverage/**', '.tap/**', '.data/**', 'bench/results/**', 'console/dist/**', 'test/console/screenshots/**']
  }),
  // the console's sources run in the browser
  { files: ['console/src/**/*.js'], languageOptions: { globals: globals.browser } }
]
