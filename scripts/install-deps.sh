#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build, run and test, only those that are missing.
# CI has no terminal: no prompts, and `apt-get update` runs once before any install.
set -euo pipefail

build_pkgs=(cmake ninja-build g++ ccache pkg-config curl
  libboost1.81-dev libboost-url1.81-dev libyaml-cpp-dev nlohmann-json3-dev doctest-dev
  prometheus-cpp-dev libhiredis-dev)
test_pkgs=(python3 python3-pytest python3-websockets python3-aiohttp curl procps prometheus)
bench_pkgs=(wrk nginx-light valgrind strace)  # valgrind, strace: bench/profile.sh
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

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing packages: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
