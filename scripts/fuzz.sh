#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target of the engine (fuzz/, cargo-fuzz on nightly) for SECONDS
# seconds, one after the other, and prints the inputs each ran and the coverage it reached.
# Each starts from its saved corpus (fuzz/corpus/<target>/, which `cargo test` replays) and
# keeps what it finds in fuzz/work/<target>/ (not committed). A failing input stops the run; it
# is saved in fuzz/artifacts/<target>/: fix the bug, then add the input to the saved corpus.
# Usage: scripts/fuzz.sh SECONDS [TARGET...]   (targets: head chunked connection)
. "$(dirname "$0")/lib.sh"
seconds=${1:?usage: $0 SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(head chunked connection)

command -v cargo-fuzz >/dev/null || fail "cargo-fuzz is missing (make deps WHAT=fuzz installs it)"
rustup run nightly rustc --version >/dev/null 2>&1 || fail "Rust nightly is missing (make deps WHAT=fuzz installs it)"

cd "$(dirname "$0")/../fuzz"
for target in "${targets[@]}"; do
  say "fuzzing $target for ${seconds}s"
  mkdir -p "work/$target"
  log=$(mktemp)
  if ! cargo +nightly fuzz run "$target" "work/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 2>"$log"; then
    grep -A 3 'panicked at' "$log" >&2 || true   # what the check said: above libFuzzer's report
    tail -n 40 "$log" >&2
    rm -f "$log"
    fail "$target: a failing input, saved in fuzz/artifacts/$target/"
  fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  rm -f "$log"
  pass "$target: ${execs:-?} inputs in ${seconds}s, ${coverage:-cov: ?} (edges), corpus $(find "work/$target" -type f | wc -l) inputs"
done
