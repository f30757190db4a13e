#!/usr/bin/env bash
# sluice against NGINX (limit_req per IP), side by side in one session, on this 2-core machine:
# both proxies pinned to core 0, wrk, the flood client and the fast upstream on core 1.
#
#   bench/run.sh [BUILD_DIR]        `make bench` installs wrk and nginx-light, builds, then runs it
#
# Three parts, about 3-4 minutes in all (more when other work keeps the machine busy: each
# throughput run first waits up to 30 s for a quiet second):
#   1. throughput: wrk -t1 -c50 -d10s --latency, sluice, sluice with metrics off (the cost of
#      recording them) and NGINX interleaved, ROUNDS rounds each
#      (5: the machine is shared, and the median of five shrugs off a disturbed run or two);
#      req/s, p50, p99, and the proxy's CPU time per request (utime+stime from /proc/PID/stat,
#      all threads, over the run, divided by the requests wrk completed);
#   2. flood accuracy: 100 r/s for 10 s (1000 requests) from one client (127.0.0.2) against a
#      limit of 100/second with no burst; admitted (200) counted; once with the proxy's core
#      idle, once with wrk loading it from 127.0.0.1 on another route;
#   3. memory per key: VmRSS of the proxy before and after KEYS distinct X-Client values.
# Raw output goes to bench/results/UTC-TIMESTAMP/ (gitignored); the markdown summary is printed
# and kept there as summary.md. Every process this script starts is stopped by its PID on exit.
#
# Knobs (environment): ROUNDS=5 DURATION=10 CONNS=50 FLOOD_SECONDS=10 KEYS=100000 PYTHON=python3
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build_dir=$(cd "${1:-build}" && pwd)
sluice_bin=$build_dir/proxy/sluice
rounds=${ROUNDS:-5}
duration=${DURATION:-10}
conns=${CONNS:-50}
flood_seconds=${FLOOD_SECONDS:-10}
flood_rate=100
keys=${KEYS:-100000}
python=${PYTHON:-python3}
proxy_cpu=0
load_cpu=1

for tool in nginx wrk taskset curl "$python"; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (make deps-bench)" >&2; exit 1; }
done
[ -x "$sluice_bin" ] || { echo "bench: $sluice_bin not built" >&2; exit 1; }

run_id=$(date -u +%Y%m%dT%H%M%SZ)
out=$here/results/$run_id
mkdir -p "$out"
work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
mkdir -p "$work/tmp"

# --- process bookkeeping: every PID started here is stopped here, and only those -------------
pids=()
stop_all() {
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Bounded: anything still there after 5 s is killed.
  for _ in $(seq 1 50); do
    local left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  cp "$work"/*.log "$out"/ 2>/dev/null || true
  rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM
# Drops a PID that has been waited for, so that stop_all never signals a reused PID.
forget() {
  local keep=() pid
  for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  pids=("${keep[@]}")
}

# --- helpers ----------------------------------------------------------------------------------
# "utime stime" of the whole process (all threads), in clock ticks. The command name is skipped
# first: it sits in parentheses and could hold spaces.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12, $13}'; }
# "busy steal" clock ticks of the whole machine (both cores): busy is user, nice, system, irq
# and softirq time; steal is time the hypervisor gave this VM's cores to someone else.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat; }
# CPU seconds (user + system) of this shell's finished children so far, e.g. a wrk that just
# ended. `times` must run in this shell, not in a $(...) subshell, which has no children yet.
children_cpu() {
  times > "$work/times.txt"
  children_s=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]);
                               s += a[1] * 60 + a[2] } printf "%.2f", s }' "$work/times.txt")
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

source "$here/wait_ready.sh"

# Four free loopback ports, picked by the kernel.
read -r upstream_port sluice_port nginx_port nometrics_port < <("$python" - <<'PY'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

fill() {
  sed -e "s/@UPSTREAM_PORT@/$upstream_port/g" -e "s/@SLUICE_PORT@/$sluice_port/g" \
      -e "s/@NGINX_PORT@/$nginx_port/g" "$1" > "$2"
}
fill "$here/nginx-upstream.conf.in" "$work/nginx-upstream.conf"
fill "$here/nginx-proxy.conf.in" "$work/nginx-proxy.conf"
fill "$here/sluice.yaml.in" "$work/sluice.yaml"
# The same sluice with metrics off: the difference is what recording them costs.
sed -e "s/^listen: .*/listen: 127.0.0.1:$nometrics_port/" -e 's/^metrics: .*/metrics: {enabled: false}/' \
  "$work/sluice.yaml" > "$work/sluice-nometrics.yaml"
cp "$work/nginx-upstream.conf" "$work/nginx-proxy.conf" "$work/sluice.yaml" \
  "$work/sluice-nometrics.yaml" "$out/"

# The flood client runs at real-time priority where allowed, so wrk on its core cannot delay its
# sends: the limit under test is exactly the offered rate, so client jitter would count.
rt=()
if chrt -f 10 true 2>/dev/null; then rt=(chrt -f 10); fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores"
  echo "kernel: $(uname -r)"
  echo "loadavg_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "sluice: $("$sluice_bin" --version 2>&1), binary built $(date -u -r "$sluice_bin" +%Y-%m-%dT%H:%M:%SZ), work tree now at $(git -C "$here/.." describe --always --dirty --exclude='*' 2>/dev/null || echo unknown)"
  echo "nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //')"
  echo "wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
  echo "python: $("$python" -c 'import platform; print(platform.python_version())')"
  echo "clk_tck: $(getconf CLK_TCK)"
  echo "flood_client_priority: ${rt[*]:-normal}"
  echo "rounds: $rounds"
  echo "duration_s: $duration"
  echo "connections: $conns"
  echo "keys: $keys"
  echo "flood: $flood_rate r/s for $flood_seconds s"
} > "$out/meta.txt"

# --- start the three servers ------------------------------------------------------------------
taskset -c "$load_cpu" nginx -p "$work" -c "$work/nginx-upstream.conf" -g 'daemon off;' \
  > "$work/nginx-upstream.log" 2>&1 &
upstream_pid=$!
pids+=("$upstream_pid")
taskset -c "$proxy_cpu" "$sluice_bin" --config "$work/sluice.yaml" > "$work/sluice.log" 2>&1 &
sluice_pid=$!
pids+=("$sluice_pid")
taskset -c "$proxy_cpu" "$sluice_bin" --config "$work/sluice-nometrics.yaml" \
  > "$work/sluice-nometrics.log" 2>&1 &
nometrics_pid=$!
pids+=("$nometrics_pid")
taskset -c "$proxy_cpu" nginx -p "$work" -c "$work/nginx-proxy.conf" -g 'daemon off;' \
  > "$work/nginx.log" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")

wait_ready "http://127.0.0.1:$upstream_port/" "$upstream_pid" nginx-upstream
wait_ready "http://127.0.0.1:$sluice_port/" "$sluice_pid" sluice
wait_ready "http://127.0.0.1:$nometrics_port/" "$nometrics_pid" sluice-nometrics
wait_ready "http://127.0.0.1:$nginx_port/" "$nginx_pid" nginx

port_of() {
  case $1 in sluice) echo "$sluice_port" ;; sluice-nometrics) echo "$nometrics_port" ;; *) echo "$nginx_port" ;; esac
}
pid_of() {
  case $1 in sluice) echo "$sluice_pid" ;; sluice-nometrics) echo "$nometrics_pid" ;; *) echo "$nginx_pid" ;; esac
}

echo "bench: servers up (upstream :$upstream_port, sluice :$sluice_port, nginx :$nginx_port); results in $out" >&2

# --- 1. throughput ----------------------------------------------------------------------------
for proxy in sluice sluice-nometrics nginx; do  # warm-up: connections, pools, caches; not recorded
  taskset -c "$load_cpu" wrk -t1 -c"$conns" -d2s "http://127.0.0.1:$(port_of $proxy)/" > /dev/null
done
# Besides the proxy's own CPU time, each run records what the rest of the machine did, so that a
# run disturbed by other work on this shared machine shows: the upstream's and wrk's CPU time,
# and the machine's busy and stolen ticks. What is left of busy is someone else's.
echo "proxy round utime_before stime_before utime_after stime_after wall_s" \
  "upstream_before upstream_after wrk_cpu_s busy_before steal_before busy_after steal_after" \
  > "$out/throughput.tsv"
upstream_ticks() { cpu_ticks "$upstream_pid" | awk '{print $1 + $2}'; }
# This machine is shared (and a VM): before each run, wait (30 s at most) for a second in which
# the whole machine, idle proxies included, was busy less than 10 % of one core and had less
# than 5 % stolen by the hypervisor.
wait_quiet() {
  local a b tck
  tck=$(getconf CLK_TCK)
  for _ in $(seq 1 30); do
    a=$(machine_ticks)
    sleep 1
    b=$(machine_ticks)
    [ $(( ${b% *} - ${a% *} )) -lt $(( tck / 10 )) ] && [ $(( ${b#* } - ${a#* } )) -lt $(( tck / 20 )) ] &&
      return 0
  done
  echo "bench: machine still busy after 30 s; running anyway (see the others' CPU column)" >&2
}
# Whether the run just measured was disturbed: others' CPU (machine busy less the proxy, the
# upstream and our clients) of 10 % of a core or more, or 5 % stolen. Same rule as report.py.
# Arguments: proxy ticks, upstream ticks, clients' CPU seconds, machine busy and stolen ticks,
# wall seconds.
is_disturbed() {
  awk -v p="$1" -v u="$2" -v c="$3" -v b="$4" -v s="$5" -v w="$6" -v t="$(getconf CLK_TCK)" \
    'BEGIN { exit !((b - p - u - c * t) / t / w >= 0.10 || s / t / w >= 0.05) }'
}
# delta "A1 A2" "B1 B2": B1 - A1 + B2 - A2.
delta() { echo "$1 $2" | awk '{print $3 - $1 + $4 - $2}'; }
# A disturbed run is repeated once, ROUNDS repeats at most in the whole session; the table keeps
# both and marks the repeat with an "r".
repeats_left=$rounds

# One throughput run of PROXY, recorded as ID; sets `disturbed`.
throughput_run() {
  local proxy=$1 id=$2 pid before after t0 t1 up_before up_after machine_before machine_after
  local wrk_before wrk_cpu
  echo "bench: throughput $proxy round $id" >&2
  pid=$(pid_of "$proxy")
  wait_quiet
  children_cpu
  wrk_before=$children_s
  up_before=$(upstream_ticks)
  machine_before=$(machine_ticks)
  before=$(cpu_ticks "$pid")
  t0=$(now_s)
  taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"${duration}s" --latency \
    "http://127.0.0.1:$(port_of "$proxy")/" > "$out/throughput-$proxy-$id.txt"
  t1=$(now_s)
  after=$(cpu_ticks "$pid")
  machine_after=$(machine_ticks)
  up_after=$(upstream_ticks)
  children_cpu
  wrk_cpu=$(elapsed "$wrk_before" "$children_s")
  echo "$proxy $id $before $after $(elapsed "$t0" "$t1") $up_before $up_after $wrk_cpu" \
    "$machine_before $machine_after" >> "$out/throughput.tsv"
  disturbed=0
  is_disturbed "$(delta "$before" "$after")" $((up_after - up_before)) "$wrk_cpu" \
    $((${machine_after% *} - ${machine_before% *})) $((${machine_after#* } - ${machine_before#* })) \
    "$(elapsed "$t0" "$t1")" && disturbed=1
  return 0
}

for round in $(seq 1 "$rounds"); do
  for proxy in sluice sluice-nometrics nginx; do
    throughput_run "$proxy" "$round"
    if [ "$disturbed" = 1 ] && [ "$repeats_left" -gt 0 ]; then
      repeats_left=$((repeats_left - 1))
      throughput_run "$proxy" "${round}r"
    fi
  done
done

# --- 2. flood accuracy ------------------------------------------------------------------------
# name proxy path: sluice's two algorithms and NGINX, each limited to 100/second per client.
floods=("sluice-token_bucket sluice /flood-tb" "nginx nginx /flood" "sluice-sliding_window sluice /flood-sw")
# Besides the proxy's CPU during the flood, the same record of the machine as for throughput,
# over the whole run (load included), so that a disturbed run shows.
echo "name core attempt utime_before stime_before utime_after stime_after wall_s span_s" \
  "span_utime_before span_stime_before span_utime_after span_stime_after" \
  "upstream_before upstream_after children_cpu_s busy_before steal_before busy_after steal_after" \
  > "$out/flood.tsv"

# One flood run (NAME PROXY PATH) with the proxy's core idle or busy, recorded as ATTEMPT (1, or
# 1r for a repeat); sets `disturbed`.
flood_run() {
  local name=$1 proxy=$2 path=$3 core=$4 attempt=$5 pid load_pid= tag
  local kids_before up_before machine_before span_before span_t0 before t0 t1 after
  local span_t1 span_after machine_after up_after kids
  tag=$name-$core-$attempt
  echo "bench: flood $name, proxy core $core, attempt $attempt" >&2
  pid=$(pid_of "$proxy")
  wait_quiet
  children_cpu
  kids_before=$children_s
  up_before=$(upstream_ticks)
  machine_before=$(machine_ticks)
  span_before=$(cpu_ticks "$pid")
  span_t0=$(now_s)
  if [ "$core" = busy ]; then
    # Keep the proxy's core saturated from another address (127.0.0.1) on the throughput
    # route, for longer than the flood lasts.
    taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$((flood_seconds + 3))s" \
      "http://127.0.0.1:$(port_of "$proxy")/" > "$out/flood-$tag-load.txt" &
    load_pid=$!
    pids+=("$load_pid")
    sleep 1
  fi
  before=$(cpu_ticks "$pid")
  t0=$(now_s)
  "${rt[@]}" taskset -c "$load_cpu" "$python" "$here/flood.py" --port "$(port_of "$proxy")" \
    --path "$path" --source 127.0.0.2 --rate "$flood_rate" --duration "$flood_seconds" \
    --trace "$out/flood-$tag-trace.txt" > "$out/flood-$tag.json"
  t1=$(now_s)
  after=$(cpu_ticks "$pid")
  if [ -n "$load_pid" ]; then wait "$load_pid"; forget "$load_pid"; fi
  span_t1=$(now_s)
  span_after=$(cpu_ticks "$pid")
  machine_after=$(machine_ticks)
  up_after=$(upstream_ticks)
  children_cpu
  kids=$(elapsed "$kids_before" "$children_s")
  echo "$name $core $attempt $before $after $(elapsed "$t0" "$t1")" \
    "$(elapsed "$span_t0" "$span_t1") $span_before $span_after $up_before $up_after $kids" \
    "$machine_before $machine_after" >> "$out/flood.tsv"
  disturbed=0
  is_disturbed "$(delta "$span_before" "$span_after")" $((up_after - up_before)) "$kids" \
    $((${machine_after% *} - ${machine_before% *})) $((${machine_after#* } - ${machine_before#* })) \
    "$(elapsed "$span_t0" "$span_t1")" && disturbed=1
  # The next run on this limit must start from an empty window and a full bucket.
  sleep 1.2
}

for core in idle busy; do
  for f in "${floods[@]}"; do
    read -r name proxy path <<< "$f"
    flood_run "$name" "$proxy" "$path" "$core" 1
    if [ "$disturbed" = 1 ] && [ "$repeats_left" -gt 0 ]; then
      repeats_left=$((repeats_left - 1))
      flood_run "$name" "$proxy" "$path" "$core" 1r
    fi
  done
done

# Sends one request for each of COUNT distinct X-Client values (PREFIX-000001...) to URL /mem,
# wrk's output to FILE. Bounded: 60 s.
spray_keys() {
  local url=$1 count=$2 prefix=$3 file=$4 done_file=$work/keys-done
  rm -f "$done_file"
  KEYS=$count KEY_PREFIX=$prefix DONE_FILE=$done_file taskset -c "$load_cpu" \
    wrk -t1 -c"$conns" -d60s -s "$here/distinct_keys.lua" "$url" > "$file" &
  local wrk_pid=$!
  pids+=("$wrk_pid")
  for _ in $(seq 1 600); do
    [ -e "$done_file" ] && break
    kill -0 "$wrk_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$wrk_pid" 2>/dev/null || true  # wrk stops early and still prints its report
  wait "$wrk_pid" || true
  forget "$wrk_pid"
  [ -e "$done_file" ] || { echo "bench: $count keys not sent within 60 s" >&2; exit 1; }
}

# --- 3. memory per key ------------------------------------------------------------------------
echo "proxy keys rss_before_kb rss_after_kb" > "$out/memory.tsv"
for proxy in sluice nginx; do
  echo "bench: memory, $keys keys through $proxy" >&2
  pid=$(pid_of $proxy)
  url="http://127.0.0.1:$(port_of $proxy)/"
  # 1000 keys of another prefix first: connection buffers and the tables' first allocations
  # are then in the baseline, and the delta is what the KEYS new keys cost.
  spray_keys "$url" 1000 warm "$out/memory-$proxy-warm.txt"
  before=$(rss_kb "$pid")
  spray_keys "$url" "$keys" client "$out/memory-$proxy.txt"
  after=$(rss_kb "$pid")
  echo "$proxy $keys $before $after" >> "$out/memory.tsv"
done

"$python" "$here/report.py" "$out" | tee "$out/summary.md"
