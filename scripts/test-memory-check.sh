#!/usr/bin/env bash
# Tests the memory-limit check of make compose-up, swarm-init and swarm-deploy. A stand-in
# `docker` on PATH plays an engine like Raspberry Pi OS's, which boots without the memory cgroup:
# `docker info` warns "No memory limit support" on stderr and reports MemoryLimit false. The three
# scripts behind those targets must then print the one-line warning with the fix, and stay quiet
# on an engine that enforces limits, as this machine's real one does.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/fogdeft-test-memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
# FAKE_MEMORY_LIMIT: what `docker info` reports as MemoryLimit; FAKE_WARNING=1: it warns too.
cat >"$work/bin/docker" <<'SH'
#!/bin/sh
case "$*" in
  "info --format {{json .MemoryLimit}}") echo "$FAKE_MEMORY_LIMIT" ;;
  "info --format {{.Swarm.LocalNodeState}}") echo active ;;
  "info --format {{.Swarm.ControlAvailable}}") echo true ;;
  info)
    echo "Server Version: 28.1.1"
    [ -z "$FAKE_WARNING" ] || echo "WARNING: No memory limit support" >&2 ;;
  "swarm join-token worker") echo "    docker swarm join --token SWMTKN-stand-in 192.0.2.1:2377" ;;
  "stack deploy "*) ;;
  "stack services "*) echo 1/1 ;;
  *) echo "stand-in docker: $*" >&2; exit 1 ;;   # `docker compose version` too: Compose v1 then
esac
SH
printf '#!/bin/sh\necho "stand-in docker-compose $*"\n' >"$work/bin/docker-compose"
chmod +x "$work/bin/docker" "$work/bin/docker-compose"

# What each target runs (make compose-up builds images first; this calls only the Compose step).
entry_points=("scripts/compose.sh up -d" "scripts/swarm-init.sh" "scripts/swarm-deploy.sh fogdeft-stand-in")
run_all() {
  local entry
  for entry in "${entry_points[@]}"; do
    # shellcheck disable=SC2086  # each entry point is a command and its words
    PATH="$work/bin:$PATH" REGISTRY=registry.invalid/fogdeft SWARM_NET=vip $entry >"$work/out" 2>&1 ||
      fail "$entry with the stand-in engine: $(cat "$work/out")"
    echo "$entry: $(grep -c '^WARNING: .*memory limits' "$work/out" || true) $(grep '^WARNING' "$work/out" || true)"
  done
}

expect_warning() {
  local what=$1 line count
  while IFS= read -r line; do
    entry=${line%%: *} count=${line#*: } count=${count%% *}
    [ "$count" = 1 ] || fail "$entry on $what printed $count memory-limit warnings, not 1"
    [[ $line == *"cgroup_enable=memory cgroup_memory=1"*"/boot/firmware/cmdline.txt"*reboot* ]] ||
      fail "$entry on $what: the warning does not give the fix: $line"
    pass "$entry on $what: one warning line, with the fix"
    warning=${line#*: 1 }
  done <<<"$(run_all)"
}
expect_quiet() {
  local what=$1 line
  while IFS= read -r line; do
    [[ $line == *": 0 " ]] || fail "${line%%: *} on $what warned: ${line#*: }"
    pass "${line%%: *} on $what: no memory-limit warning"
  done <<<"$(run_all)"
}

FAKE_MEMORY_LIMIT=false FAKE_WARNING=1 expect_warning "an engine without the memory cgroup (MemoryLimit false, warning)"
FAKE_MEMORY_LIMIT=true FAKE_WARNING=1 expect_warning "an engine that only warns"
FAKE_MEMORY_LIMIT=false FAKE_WARNING='' expect_warning "an engine that only reports MemoryLimit false"
FAKE_MEMORY_LIMIT=true FAKE_WARNING='' expect_quiet "an engine with memory limits"
say "the warning: $warning"

# This machine's engine enforces memory limits (cgroup v1 memory controller): no warning.
require_docker
[ "$(docker info --format '{{json .MemoryLimit}}')" = true ] || fail "this engine reports MemoryLimit $(docker info --format '{{json .MemoryLimit}}')"
out=$(memory_limits_warning 2>&1)
[ -z "$out" ] || fail "the real engine, which enforces memory limits, got: $out"
pass "this machine's engine: MemoryLimit true, and memory_limits_warning says nothing"
