#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build, run and test, only those that are missing.
# CI has no terminal: no prompts, and `apt-get update` runs once before any install.
# The `test` set also brings the real backends of the path-evasion tests (tests/system/backends/):
# FastAPI and uvicorn, Flask, nginx, Node and, through `npm ci`, Express.
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(cmake ninja-build g++ ccache pkg-config curl
  libboost1.81-dev libboost-url1.81-dev libyaml-cpp-dev nlohmann-json3-dev doctest-dev
  prometheus-cpp-dev libhiredis-dev)
# nginx: the package that installs /usr/sbin/nginx (Debian 12's nginx-light only adds modules).
test_pkgs=(python3 python3-pytest python3-websockets python3-aiohttp curl procps prometheus
  python3-fastapi python3-uvicorn python3-flask nginx)
bench_pkgs=(wrk nginx-light valgrind strace)  # valgrind, strace: bench/profile.sh
express_dir=tests/system/backends/express
# make fuzz: clang with libFuzzer's runtime (libclang-common-14-dev, a dependency of clang-14),
# and llvm-symbolizer (llvm-14) for the stacks in its reports.
fuzz_pkgs=(clang-14 llvm-14)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  fuzz) want+=("${fuzz_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench|fuzz]" >&2; exit 2 ;;
esac
# Node and npm from Debian only when no node is there at all: a machine may carry its own build
# (with npm inside), which Debian's npm would conflict with.
if [ "${1:-build}" != build ] && ! command -v node >/dev/null 2>&1; then
  want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing missing packages: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Express for the path-evasion tests, exactly as package-lock.json pins it.
if [ "${1:-build}" != build ] && [ ! -d "$express_dir/node_modules" ]; then
  echo "installing $express_dir/node_modules (npm ci)" >&2
  (cd "$express_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
