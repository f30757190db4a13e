# Sourced by bench/run.sh and bench/profile.sh.
# wait_ready URL PID NAME [TENTHS]: waits until URL answers, at most TENTHS tenths of a second
# (default 100); gives up at once if PID (the process that should answer) has exited. Exits the
# script on failure; NAME is the process's name in the message (its log is in the results).
wait_ready() {
  local url=$1 pid=$2 name=$3 tries=${4:-100}
  for _ in $(seq 1 "$tries"); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "bench: $name exited before answering $url" >&2; exit 1; }
    sleep 0.1
  done
  echo "bench: $name not ready at $url after $((tries / 10)) s" >&2
  exit 1
}
