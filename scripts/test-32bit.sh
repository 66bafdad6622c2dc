#!/usr/bin/env bash
# The engine's unit tests and its tests/ on a 32-bit target, where a usize has 32 bits: built
# for armv7 (the Pi 2, 3 and 4 on 32-bit Raspberry Pi OS) and run under QEMU user-mode emulation
# (qemu-arm as cargo's runner). A length that wraps at 32 bits is caught here, not on a Pi.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

# The platform's target, toolchain and emulator, from the table in scripts/lib.sh.
target=$(platform_info linux-arm-v7 target)
toolchain=$(platform_info linux-arm-v7 rust)
emulator=$(platform_info linux-arm-v7 qemu)
require_tools "make test-32bit" "$emulator" rustup
rust_target "$target" "$toolchain"
say "the engine's tests on $target (Rust $toolchain), under $emulator"
# FOGDEFT_EMULATOR: for the tests that start themselves again as a child process.
env "$(cargo_target_var "$target" LINKER)=rust-lld" "$(cargo_target_var "$target" RUNNER)=$emulator" \
  FOGDEFT_EMULATOR="$emulator" \
  cargo "+$toolchain" test --release --locked -p fogdeft-engine --target "$target"
pass "the engine's tests pass on $target (32-bit) under $emulator"
