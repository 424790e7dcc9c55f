#!/usr/bin/env bash
# A new user's first minute, in a checkout other users cannot enter (mktemp -d is 0700; as root the
# embedded PostgreSQL runs as `postgres`, which cannot enter it either): clone, `npm ci`, `npm start`
# until health answers, `npm test -- <one small file>`, then stop the server and check that
# nothing it started is left running. Usage: .ci/fresh-clone.sh [parent folder, e.g. /root]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
home=$(mktemp -d ${1:+-p "$1"})
server=
cleanup() {
  if [ -n "$server" ] && kill -0 -- "-$server" 2>/dev/null; then kill -KILL -- "-$server" 2>/dev/null || true; fi
  rm -rf "$(readlink -f "$home/checkout/.data" 2>/dev/null || echo /nonexistent)" "$home"
}
trap cleanup EXIT

git clone --quiet "$repo" "$home/checkout"
cd "$home/checkout"
echo "checkout: $PWD ($(stat -c %a "$home") $(stat -c %U "$home"))"
npm ci --no-audit --no-fund --loglevel=error

port=$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close() })")
# its own session: the TERM below reaches npm, its shell and the server together
PORT=$port OBSERVERS_ADMIN_TOKEN=fresh-clone-check-token setsid npm start > start.log 2>&1 &
server=$!
# bounded: the first start builds dist/ and creates the database
deadline=$((SECONDS + 300))
until curl -fsS "http://127.0.0.1:$port/observers/runtime/health" > /dev/null 2>&1; do
  if ! kill -0 "$server" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "npm start did not answer on /observers/runtime/health:"; cat start.log; exit 1
  fi
  sleep 0.2
done
echo "health answered on port $port; .data -> $(readlink -f .data)"

npm test -- test/condition/print.test.ts > test.log 2>&1 || { cat test.log; exit 1; }
grep -E '^# \{ total' test.log

kill -TERM -- "-$server"
deadline=$((SECONDS + 30))
while kill -0 -- "-$server" 2>/dev/null; do
  if [ $SECONDS -ge $deadline ]; then echo "the server did not stop within 30 s"; cat start.log; exit 1; fi
  sleep 0.2
done
server=
grep -q '"msg":"stopping"' start.log || { echo "the server did not stop cleanly:"; cat start.log; exit 1; }
if pgrep -f "postgres -D $(readlink -f .data)" > /dev/null; then echo "the embedded PostgreSQL is still running"; exit 1; fi
if grep -E '"level":(40|50|60)' start.log; then echo "warnings or errors in the server log"; exit 1; fi
echo "npm start and npm test worked in a 0700 checkout, and stopped cleanly"
