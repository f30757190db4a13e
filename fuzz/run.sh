#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time on the committed corpus: `fuzz/run.sh BUILD_DIR
# [SECONDS]` (make fuzz). New inputs the fuzzer finds go to BUILD_DIR/fuzz-corpus/<target>, never
# into the committed fuzz/corpus/. A crash, leak, timeout or out-of-memory fails the run; its
# input is kept under BUILD_DIR/fuzz-artifacts/<target>/, printed, and the command that
# reproduces it is shown. Every target runs, whatever an earlier one found.
set -uo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS]}
seconds=${2:-60}

# target:seed corpus (the differential starts from the response parser's corpus).
targets=(config_loader:config_loader request_target:request_target
  response_parser:response_parser response_differential:response_parser
  websocket_frames:websocket_frames)

symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"
# Leaks count (LeakSanitizer), and UBSan stops at its first report like the rest.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

failed=()
for entry in "${targets[@]}"; do
  name=${entry%%:*}
  seeds=fuzz/corpus/${entry#*:}
  bin=$build_dir/fuzz/${name}_fuzz
  work=$build_dir/fuzz-corpus/$name
  artifacts=$build_dir/fuzz-artifacts/$name/
  mkdir -p "$work" "$artifacts"
  dict=()
  [ -f "fuzz/dict/$name.dict" ] && dict=(-dict="fuzz/dict/$name.dict")
  echo "== fuzz $name: ${seconds}s on $seeds ($(ls "$seeds" | wc -l) seeds)"
  log=$build_dir/fuzz-$name.log
  # -max_len: the seeds are small and so are the bugs; 8 KiB lets a head cross the parsers'
  # buffer edges. -timeout: an input that runs 10 s is a hang (and is kept). -rss_limit_mb: well
  # under the machine's memory, with ASan's overhead. The outer timeout is a backstop: after an
  # out-of-memory libFuzzer prints a heap profile, which can take minutes on a big heap.
  timeout -k 30 $((seconds + 300)) "$bin" "${dict[@]}" -max_total_time="$seconds" -max_len=8192 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$work" "$seeds" >"$log" 2>&1
  rc=$?
  grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' '
  echo
  if [ $rc -ne 0 ]; then
    failed+=("$name")
    echo "!! fuzz $name FAILED (exit $rc); its report:"
    tail -n 80 "$log"
    for a in "$artifacts"*; do
      [ -f "$a" ] || continue
      echo "!! reproducer $a ($(stat -c %s "$a") bytes), as hex:"
      od -A x -t x1z -v "$a" | head -n 64
      echo "!! reproduce with: $bin $a"
    done
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each, no crash"
