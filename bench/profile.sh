#!/usr/bin/env bash
# Where sluice's CPU per request goes, with the configs and upstream of bench/run.sh:
#   1. user space: sluice under callgrind (instructions counted exactly, no perf needed), loaded
#      by wrk on the throughput route; start-up is not counted (instrumentation is switched on
#      once sluice answers). Prints Ir per request and the TOP functions, inclusive and self.
#      Then NGINX the same way, for the ratio of user-space instructions per request.
#   2. the kernel: system calls per request of sluice and of NGINX, counted by strace -c -f
#      attached for a wrk run (strace slows both; the counts, not the times, are the point).
#   3. the same at full speed, counted inside each proxy by bench/syscall_count.c (LD_PRELOAD):
#      under strace the peers are always ahead of the proxy, which hides the reads that fail
#      with EAGAIN because the peer has not answered yet.
#
#   bench/profile.sh [BUILD_DIR]       DURATION=10 (seconds of wrk), TOP=15 (functions listed)
#
# Writes bench/results/profile-UTC-TIMESTAMP/ (callgrind.out, wrk.txt, inclusive.txt, self.txt,
# strace-*.txt). Every process it starts is stopped by its PID on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build_dir=$(cd "${1:-build}" && pwd)
sluice_bin=$build_dir/proxy/sluice
duration=${DURATION:-10}
top=${TOP:-15}
python=${PYTHON:-python3}
for tool in nginx wrk valgrind callgrind_control callgrind_annotate strace taskset curl cc; do
  command -v "$tool" >/dev/null || { echo "profile: $tool not found" >&2; exit 1; }
done

out=$here/results/profile-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
work=$(mktemp -d /tmp/sluice-profile.XXXXXX)
mkdir -p "$work/tmp"
pids=()
stop_all() {
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  cp "$work"/*.log "$out"/ 2>/dev/null || true
  rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

source "$here/wait_ready.sh"

read -r upstream_port sluice_port nginx_port < <("$python" - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)
for f in nginx-upstream.conf nginx-proxy.conf sluice.yaml; do
  sed -e "s/@UPSTREAM_PORT@/$upstream_port/g" -e "s/@SLUICE_PORT@/$sluice_port/g" \
    -e "s/@NGINX_PORT@/$nginx_port/g" \
    "$here/$f.in" > "$work/$f"
done

taskset -c 1 nginx -p "$work" -c "$work/nginx-upstream.conf" -g 'daemon off;' \
  > "$work/nginx-upstream.log" 2>&1 &
pids+=($!)
taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.out" \
  "$sluice_bin" --config "$work/sluice.yaml" > "$work/sluice.log" 2>&1 &
sluice_pid=$!
pids+=("$sluice_pid")

wait_ready "http://127.0.0.1:$sluice_port/" "$sluice_pid" sluice 300  # valgrind starts slowly

callgrind_control -i on "$sluice_pid" > /dev/null
taskset -c 1 wrk -t1 -c50 -d"${duration}s" --latency "http://127.0.0.1:$sluice_port/" > "$out/wrk.txt"
callgrind_control -i off "$sluice_pid" > /dev/null
kill -TERM "$sluice_pid"
wait "$sluice_pid" || true
unset 'pids[-1]'

requests=$(awk '/requests in/ {print $1}' "$out/wrk.txt")
callgrind_annotate --inclusive=yes "$out/callgrind.out" > "$out/inclusive.txt"
callgrind_annotate "$out/callgrind.out" > "$out/self.txt"
total=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$out/self.txt")
echo "requests: $requests   instructions (Ir): $total   Ir per request: $((total / requests))"
echo
echo "inclusive, top $top:"
grep -A"$((top + 2))" -m1 'file:function' "$out/inclusive.txt" | tail -n +3
echo
echo "self, top $top:"
grep -A"$((top + 2))" -m1 'file:function' "$out/self.txt" | tail -n +3

# --- 1b. NGINX's user space, counted the same way ---------------------------------------------
# Instruction counts do not move with the noise of a shared VM the way CPU time does, so this
# is the steady comparison of the two proxies' user-space work per request (same upstream,
# same wrk, same limits: per IP and per route).
taskset -c 0 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind-nginx.out" \
  nginx -p "$work" -c "$work/nginx-proxy.conf" -g 'daemon off;' > "$work/nginx-callgrind.log" 2>&1 &
nginx_cg_pid=$!
pids+=("$nginx_cg_pid")
wait_ready "http://127.0.0.1:$nginx_port/" "$nginx_cg_pid" nginx 300
callgrind_control -i on "$nginx_cg_pid" > /dev/null
taskset -c 1 wrk -t1 -c50 -d"${duration}s" "http://127.0.0.1:$nginx_port/" > "$out/wrk-nginx.txt"
callgrind_control -i off "$nginx_cg_pid" > /dev/null
kill -TERM "$nginx_cg_pid"
wait "$nginx_cg_pid" || true
unset 'pids[-1]'
nginx_requests=$(awk '/requests in/ {print $1}' "$out/wrk-nginx.txt")
callgrind_annotate "$out/callgrind-nginx.out" > "$out/self-nginx.txt"
nginx_total=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$out/self-nginx.txt")
echo
echo "nginx requests: $nginx_requests   instructions (Ir): $nginx_total   Ir per request: $((nginx_total / nginx_requests))"
awk -v s="$((total / requests))" -v n="$((nginx_total / nginx_requests))" \
  'BEGIN { printf "user-space instructions per request, sluice / NGINX: %.2f\n", s / n }'

# --- 2. system calls per request --------------------------------------------------------------
taskset -c 0 "$sluice_bin" --config "$work/sluice.yaml" > "$work/sluice-plain.log" 2>&1 &
sluice_pid=$!
pids+=("$sluice_pid")
taskset -c 0 nginx -p "$work" -c "$work/nginx-proxy.conf" -g 'daemon off;' > "$work/nginx.log" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
wait_ready "http://127.0.0.1:$sluice_port/" "$sluice_pid" sluice
wait_ready "http://127.0.0.1:$nginx_port/" "$nginx_pid" nginx
for proxy in sluice nginx; do
  if [ "$proxy" = sluice ]; then pid=$sluice_pid port=$sluice_port; else pid=$nginx_pid port=$nginx_port; fi
  taskset -c 1 wrk -t1 -c50 -d2s "http://127.0.0.1:$port/" > /dev/null  # warm-up
  strace -c -f -o "$out/strace-$proxy.txt" -p "$pid" 2> /dev/null &
  strace_pid=$!
  pids+=("$strace_pid")
  sleep 1  # strace -p has no readiness signal; it attaches well within this
  taskset -c 1 wrk -t1 -c50 -d"${duration}s" "http://127.0.0.1:$port/" > "$out/strace-wrk-$proxy.txt"
  kill -INT "$strace_pid"
  wait "$strace_pid" || true
  unset 'pids[-1]'  # waited for: never signal it (or a process that reused its PID) again
  n=$(awk '/requests in/ {print $1}' "$out/strace-wrk-$proxy.txt")
  echo
  echo "$proxy: system calls per request ($n requests under strace):"
  awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { printf "  %-16s %6.2f\n", $NF, $4 / n; total += $4 }
                 END { printf "  %-16s %6.2f\n", "total", total / n }' "$out/strace-$proxy.txt"
done

# --- 3. system calls per request at full speed ------------------------------------------------
cc -O2 -shared -fPIC -o "$work/syscall_count.so" "$here/syscall_count.c" -ldl
kill -TERM "$sluice_pid" "$nginx_pid"
wait "$sluice_pid" "$nginx_pid" || true
pids=("${pids[@]:0:1}")  # the upstream only; both proxies are gone
echo
echo "at full speed (counted in-process, wrk ${duration}s):"
for proxy in sluice nginx; do
  if [ "$proxy" = sluice ]; then
    SYSCALL_COUNT_OUT=$out/syscalls-$proxy.txt LD_PRELOAD=$work/syscall_count.so \
      taskset -c 0 "$sluice_bin" --config "$work/sluice.yaml" > "$work/sluice-count.log" 2>&1 &
    port=$sluice_port
  else
    SYSCALL_COUNT_OUT=$out/syscalls-$proxy.txt LD_PRELOAD=$work/syscall_count.so \
      taskset -c 0 nginx -p "$work" -c "$work/nginx-proxy.conf" -g 'daemon off;' > "$work/nginx-count.log" 2>&1 &
    port=$nginx_port
  fi
  pid=$!
  pids+=("$pid")
  wait_ready "http://127.0.0.1:$port/" "$pid" "$proxy"
  taskset -c 1 wrk -t1 -c50 -d"${duration}s" "http://127.0.0.1:$port/" > "$out/count-wrk-$proxy.txt"
  kill -TERM "$pid"
  wait "$pid" || true
  unset 'pids[-1]'
  n=$(awk '/requests in/ {print $1}' "$out/count-wrk-$proxy.txt")
  awk -v n="$n" -v p="$proxy" '{ printf "  %-7s recv %.2f (failed with EAGAIN %.2f)  send %.2f  getsockopt %.2f  epoll_wait %.2f  total %.2f\n",
                                   p, $2 / n, $4 / n, $6 / n, $8 / n, $10 / n, ($2 + $6 + $8 + $10) / n }' \
    "$out/syscalls-$proxy.txt"
done

echo
echo "raw: $out"
