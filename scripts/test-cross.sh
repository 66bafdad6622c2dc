#!/usr/bin/env bash
# Checks the cross-compiled binaries: each is static, at most 1 MiB and for the right machine (for
# 32-bit arm, the architecture version in its ELF attributes too), and they really work, run under
# QEMU user-mode emulation (Debian's qemu-user): the producer serves /healthz and /number,
# `consumer --once` fetches from it, and the autoscaler starts. And pi/README.md's table of their
# sizes, the one place that states them, is true within SIZE_TOLERANCE. The armv6 ones run on the CPU of a
# Pi Zero and Pi 1 (qemu-arm -cpu arm1176), which has no ARMv7 instructions. What each platform's
# binaries must look like, and what runs them, is in the table in scripts/lib.sh.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

mapfile -t emulators < <(qemu_programs)
require_tools "make test-cross" "${emulators[@]}" file curl readelf
scripts/cross.sh >/dev/null 2>&1 || scripts/cross.sh   # rerun loudly only if it failed

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# check_files PLATFORM: `file` says the table's machine and static; for 32-bit arm, readelf's
# Tag_CPU_arch is the platform's variant (v6 or v7), the oldest CPU the code may run on; and at
# most 1 MiB (a binary over it is named at once, and fails the test at the end).
check_files() {
  local platform=$1 machine arm_arch="" program binary description size tag
  machine=$(platform_info "$platform" file)
  [ "$(platform_arch "$platform")" != arm ] || arm_arch=$(platform_variant "$platform")
  for program in "${PROGRAMS[@]}"; do
    binary=dist/$platform/$program
    description=$(file -b "$binary")
    size=$(stat -c %s "$binary")
    [[ $description == *"$machine"* && $description == *static* && $description != *dynamic* ]] ||
      fail "$binary is not a static $machine binary: $description"
    if [ -n "$arm_arch" ]; then
      tag=$(readelf -A "$binary" | sed -n 's/^ *Tag_CPU_arch: //p')
      [ "$tag" = "$arm_arch" ] || fail "$binary is tagged Tag_CPU_arch: ${tag:-none}, expected $arm_arch"
    fi
    pass "$platform/$program: static $machine${arm_arch:+ (Tag_CPU_arch: $arm_arch)}"
    if [ "$size" -le 1048576 ]; then
      pass "$platform/$program: $size bytes, at most 1 MiB"
    else   # said now, failed at the end, so that the other checks still run
      printf 'FAIL: %s\n' "$binary is $size bytes, more than 1 MiB" >&2
      oversized+=("$binary")
    fi
  done
}
oversized=()

# Each size in pi/README.md's table (| Binary | linux-amd64 | ... |, a row per program, in KiB)
# may differ from the binary's by SIZE_TOLERANCE percent at most: a figure written once stays
# true. The table must name every program of every platform.
SIZE_TOLERANCE=3
check_documented_sizes() {
  local table platforms=() row cells program i documented actual wrong=()
  table=$(awk '/^\| Binary \| linux-/ {on = 1} on && !/^\|/ {exit} on' pi/README.md)
  [ -n "$table" ] || fail "pi/README.md has no table of binary sizes (| Binary | linux-amd64 | ...)"
  IFS='|' read -r -a cells <<<"$(sed -n 1p <<<"$table" | tr -d ' ')"
  platforms=("${cells[@]:2}")
  for program in "${PROGRAMS[@]}"; do
    row=$(grep "^| $program |" <<<"$table") || fail "pi/README.md's table of sizes has no row for $program"
    IFS='|' read -r -a cells <<<"$(tr -d ' ,' <<<"$row")"
    for i in "${!platforms[@]}"; do
      documented=${cells[i + 2]%KiB}
      [[ $documented =~ ^[0-9]+$ ]] || fail "pi/README.md: $program on ${platforms[i]} is '${cells[i + 2]}', not a size in KiB"
      actual=$(stat -c %s "dist/${platforms[i]}/$program") || fail "dist/${platforms[i]}/$program is missing"
      # |documented - actual| <= SIZE_TOLERANCE % of actual, in whole bytes
      if [ $(((documented * 1024 - actual) * 100)) -gt $((SIZE_TOLERANCE * actual)) ] ||
        [ $(((actual - documented * 1024) * 100)) -gt $((SIZE_TOLERANCE * actual)) ]; then
        wrong+=("${platforms[i]}/$program: $documented KiB stated, $(((actual + 512) / 1024)) KiB built")
      fi
    done
  done
  for platform in "${PLATFORMS[@]}"; do
    [[ " ${platforms[*]} " == *" $platform "* ]] || fail "pi/README.md's table of sizes has no column for $platform"
  done
  [ ${#wrong[@]} -eq 0 ] || fail "pi/README.md's sizes are more than $SIZE_TOLERANCE % off (make cross prints the sizes): ${wrong[*]}"
  pass "pi/README.md's ${#PROGRAMS[@]} x ${#platforms[@]} binary sizes are those of dist/, within $SIZE_TOLERANCE %"
}

# run_programs PLATFORM [EMULATOR...]: the three programs of PLATFORM work under EMULATOR.
run_programs() {
  local platform=$1 port line body
  shift
  local under=${*:-no emulation}
  port=$(free_port)
  "$@" "dist/$platform/producer" --host 127.0.0.1 --port "$port" >/dev/null &
  pids+=($!)
  wait_until 20 "$platform producer answers /healthz under $under" curl -fsS "http://127.0.0.1:$port/healthz"
  body=$(curl -fsS "http://127.0.0.1:$port/number") || fail "$platform /number under $under"
  grep -q '"number"' <<<"$body" || fail "$platform /number under $under answered: $body"
  line=$("$@" "dist/$platform/consumer" --once --url "http://127.0.0.1:$port/number") ||
    fail "$platform consumer --once under $under: $line"
  pass "$platform under $under: producer serves /healthz and /number ($body); consumer --once says '$line'"
  line=$("$@" "dist/$platform/autoscaler" --version) || fail "$platform autoscaler --version under $under: $line"
  pass "$platform under $under: autoscaler --version says '$line'"
}

for platform in "${PLATFORMS[@]}"; do check_files "$platform"; done
check_documented_sizes
for platform in "${PLATFORMS[@]}"; do
  emulator=$(platform_info "$platform" qemu)
  read -r -a emulator <<<"$emulator"   # its words: qemu-arm -cpu arm1176
  run_programs "$platform" "${emulator[@]}"
done

# Why linux-arm-v6 exists: the armv7 build dies on that CPU at its first ARMv7 instruction.
# (An inner shell, so that its "Illegal instruction" report goes nowhere; no core file either.)
armv6=$(platform_info linux-arm-v6 qemu)
read -r -a emulator <<<"$armv6"
# shellcheck disable=SC2016
status=$(bash -c 'ulimit -c 0; "$@" --version >/dev/null 2>&1; echo $?' _ \
  "${emulator[@]}" dist/linux-arm-v7/producer 2>/dev/null)
[ "$status" = 132 ] || fail "linux-arm-v7/producer under $armv6 exited $status, not 132 (SIGILL)"
pass "linux-arm-v7/producer under $armv6: Illegal instruction (exit 132), so armv6 boards need linux-arm-v6"

[ ${#oversized[@]} -eq 0 ] || fail "more than 1 MiB: ${oversized[*]}"
