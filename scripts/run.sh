#!/usr/bin/env bash
# `make run`: upstream-stub on 127.0.0.1:9000 and sluice on 127.0.0.1:8080 in the foreground;
# Ctrl-C stops both.
set -euo pipefail
build_dir=${1:-build}
cd "$(dirname "$0")/.."

"$build_dir/upstream_stub/upstream-stub" --listen 127.0.0.1:9000 &
stub_pid=$!
"$build_dir/proxy/sluice" --config config/sluice.yaml &
sluice_pid=$!

stop() {
  trap - INT TERM EXIT
  kill -TERM "$sluice_pid" "$stub_pid" 2>/dev/null || true
  wait "$sluice_pid" "$stub_pid" 2>/dev/null || true
}
trap stop INT TERM EXIT

# Wait for sluice to answer before suggesting a request (bounded: 10 s).
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null http://127.0.0.1:8080/health 2>/dev/null && break
  kill -0 "$sluice_pid" 2>/dev/null || { echo "sluice exited; see the log above" >&2; exit 1; }
  sleep 0.1
done
cat <<MSG

sluice is listening on http://127.0.0.1:8080 in front of upstream-stub on 127.0.0.1:9000.
Try:  curl -i http://127.0.0.1:8080/api/system/stats
Ctrl-C stops both.
MSG
wait -n "$sluice_pid" "$stub_pid" || true
