#!/usr/bin/env bash
# Schemathesis against the live agent: every operation of /openapi.json is called with
# generated valid and invalid input, and every answer must be no 5xx, a documented status, the
# documented content type, and conform to its schema. Usage: tests/schemathesis/run.sh [VIGIL]
# (default target/debug/vigil; build it first). Installs schemathesis into target/ (pinned).
set -euo pipefail
cd "$(dirname "$0")/../.."

VIGIL=${1:-target/debug/vigil}
VERSION=4.32.5
VENV=target/schemathesis-venv
if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$VERSION"
fi

work=$(mktemp -d)
pid=
cleanup() {
  # Stop the agent we started, by its PID, then drop its data.
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/vigil.toml" <<TOML
data_dir = "$work/data"
[api]
address = "127.0.0.1:0"
TOML
"$VIGIL" --config "$work/vigil.toml" > "$work/stdout" 2> "$work/stderr" &
pid=$!
addr=
for _ in $(seq 600); do
  addr=$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$work/stdout" | head -1)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stdout" "$work/stderr"; echo "vigil exited before listening"; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "vigil did not listen within 60 s"; exit 1; }
echo "schemathesis $VERSION against vigil at $addr"

# WebSocket endpoints are not HTTP operations: their upgrade is tested by tests/e2e/ws.rs.
status=0
"$VENV/bin/schemathesis" run "http://$addr/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path-regex '^/ws' \
  --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --max-time 110 \
  --seed 8420 \
  --workers 1 \
  --request-timeout 30 \
  --no-color \
  --report junit --report-dir "target/schemathesis-report" || status=$?
if grep -q "panicked" "$work/stderr"; then
  echo "vigil panicked during the run:"; grep -A5 panicked "$work/stderr"; exit 1
fi
exit $status
