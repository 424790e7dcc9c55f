// Why an embedded postgres stopped before it accepted connections, from its last log lines
// (lc_messages is C, so the texts below are the ones it prints), as one line with the fix.

export interface ExitContext {
  dataDir: string
  port: number
  code: number | null
  /** the port was chosen by the caller (EMBEDDED_PG_PORT), not picked free */
  portGiven: boolean
}

const message = (line: string): string => line.replace(/^.*?(FATAL|PANIC|ERROR|DETAIL|HINT): +/, '')

/** The binaries cannot load their shared libraries (the package's install script links them). */
export function libraryProblem (text: string): string | undefined {
  const line = /[^\n]*error while loading shared libraries[^\n]*/.exec(text)?.[0]
  if (line === undefined) return undefined
  return `the PostgreSQL programs cannot load their libraries (${line.trim()}): reinstall with \`npm ci\` (its install script links them), or set DATABASE_URL`
}

export function explainServerExit (lines: string[], { dataDir, port, code, portGiven }: ExitContext): string {
  const text = lines.join('\n')
  const libraries = libraryProblem(text)
  if (libraries !== undefined) return libraries
  const other = /another postmaster \(PID (\d+)\) running in data directory/.exec(text)
  if (other !== null) {
    return `another PostgreSQL (pid ${other[1]}) is already running on ${dataDir}: stop it (kill ${other[1]}), or give this server another data folder`
  }
  if (/Address already in use|could not create any TCP\/IP sockets|lock file "[^"]*\.s\.PGSQL\.\d+\.lock" already exists/.test(text)) {
    return `port ${port} is in use, so the embedded PostgreSQL cannot listen on it: ` +
      (portGiven ? `set EMBEDDED_PG_PORT to a free port (or unset it to pick one), or stop the process using ${port}` : 'start again')
  }
  const versions = /initialized by PostgreSQL version (\d+), which is not compatible with this version ([\d.]+)/.exec(text)
  if (versions !== null) {
    return `${dataDir} holds a PostgreSQL ${versions[1]} database, but the embedded server is PostgreSQL ${versions[2]}: ` +
      `move it aside (or delete it) to start afresh, or set DATABASE_URL to a PostgreSQL ${versions[1]} server`
  }
  if (/has invalid permissions|has wrong ownership/.test(text)) {
    return `PostgreSQL refuses the data folder ${dataDir} (${message(lines.find((l) => /FATAL/.test(l)) ?? '')}): ` +
      `it must belong to the user running PostgreSQL, mode 0700 (chmod 700 ${dataDir})`
  }
  const fatal = lines.find((l) => /(FATAL|PANIC): /.test(l))
  const why = fatal !== undefined ? message(fatal) : `exit code ${String(code)}${lines.length > 0 ? `: ${lines[lines.length - 1]}` : ''}`
  return `the embedded PostgreSQL stopped while starting (${why}): fix that, move ${dataDir} aside to start afresh, or set DATABASE_URL`
}
