#!/usr/bin/env bash
# The hostile and conformance suites (tests/hostile.rs, tests/conformance.rs, tests/framing.rs)
# against every producer we ship: the static builds of scripts/cross.sh, the arm ones under QEMU
# user-mode emulation (armv6 on the Pi Zero's ARM1176). The suites start FOGDEFT_PRODUCER under
# FOGDEFT_EMULATOR, and stretch their bounds on how fast it works by FOGDEFT_SLOWDOWN
# (tests/support/mod.rs); the peers, Go and nginx, run natively.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

mapfile -t emulators < <(qemu_programs)
require_tools "make test-cross-suites" "${emulators[@]}"
scripts/cross.sh >/dev/null 2>&1 || scripts/cross.sh   # rerun loudly only if it failed
SUITES=(--test hostile --test conformance --test framing)
cargo test --release --locked "${SUITES[@]}" --no-run >/dev/null 2>&1 ||
  cargo test --release --locked "${SUITES[@]}" --no-run

# suites PLATFORM SLOWDOWN [EMULATOR...]: the suites against dist/PLATFORM/producer, run by
# EMULATOR. A failure is named at once and fails the script at the end, after every platform.
suites() {
  local platform=$1 slowdown=$2 started=$SECONDS
  shift 2
  local under=${*:-no emulation}
  say "the suites against $platform/producer under $under"
  if FOGDEFT_PRODUCER="$PWD/dist/$platform/producer" FOGDEFT_EMULATOR="$*" FOGDEFT_SLOWDOWN="$slowdown" \
    cargo test --release --locked --no-fail-fast "${SUITES[@]}"; then
    pass "$platform/producer under $under: the hostile, conformance and framing suites ($((SECONDS - started)) s)"
  else
    printf 'FAIL: %s\n' "$platform/producer under $under: the suites failed" >&2
    failed+=("$platform")
  fi
}
failed=()

# Each platform under its emulator from the table in scripts/lib.sh, which is about 5 times slower.
for platform in "${PLATFORMS[@]}"; do
  emulator=$(platform_info "$platform" qemu)
  read -r -a emulator <<<"$emulator"   # its words: qemu-arm -cpu arm1176
  slowdown=5
  [ ${#emulator[@]} -gt 0 ] || slowdown=1
  suites "$platform" "$slowdown" "${emulator[@]}"
done

[ ${#failed[@]} -eq 0 ] || fail "the suites failed against: ${failed[*]}"
