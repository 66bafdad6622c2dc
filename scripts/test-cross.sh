#!/usr/bin/env bash
# Checks the cross-compiled binaries: each is static, at most 1 MiB and for the right machine, and
# the arm64 and armv7 ones really work, run under QEMU user-mode emulation (Debian's qemu-user):
# the producer serves /number, `consumer --once` fetches from it, and the autoscaler starts.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

require_tools "make test-cross" qemu-aarch64 qemu-arm file curl
scripts/cross.sh >/dev/null 2>&1 || scripts/cross.sh   # rerun loudly only if it failed

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

check() {
  local platform=$1 machine=$2 qemu=$3 program description size port
  for program in "${PROGRAMS[@]}"; do
    description=$(file -b "dist/$platform/$program")
    size=$(stat -c %s "dist/$platform/$program")
    [[ $description == *"$machine"* && $description == *static* && $description != *dynamic* ]] ||
      fail "dist/$platform/$program is not a static $machine binary: $description"
    [ "$size" -le 1048576 ] || fail "dist/$platform/$program is $size bytes, more than 1 MiB"
    pass "$platform/$program: static $machine, $size bytes"
  done

  port=$(free_port)
  $qemu "dist/$platform/producer" --host 127.0.0.1 --port "$port" >/dev/null &
  pids+=($!)
  wait_until 20 "$platform producer answers" curl -fsS "http://127.0.0.1:$port/healthz"
  local body line
  body=$(curl -fsS "http://127.0.0.1:$port/number") || fail "$platform /number"
  grep -q '"number"' <<<"$body" || fail "$platform /number said: $body"
  line=$($qemu "dist/$platform/consumer" --once --url "http://127.0.0.1:$port/number") ||
    fail "$platform consumer --once: $line"
  pass "$platform under ${qemu:-no emulation}: producer serves /number; consumer --once says '$line'"
  line=$($qemu "dist/$platform/autoscaler" --version) || fail "$platform autoscaler --version: $line"
  pass "$platform under ${qemu:-no emulation}: autoscaler --version says '$line'"
}

check linux-amd64 x86-64 ""
check linux-arm64 "ARM aarch64" qemu-aarch64
check linux-arm-v7 "ARM, EABI5" qemu-arm
