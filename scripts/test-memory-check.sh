#!/usr/bin/env bash
# Tests the memory-limit check of make compose-up, swarm-init and swarm-deploy. A stand-in
# `docker` on PATH plays an engine like Raspberry Pi OS's, which boots without the memory cgroup:
# `docker info` warns "No memory limit support" on stderr and reports MemoryLimit false, on cgroup
# v1 (Bullseye) and v2 (Bookworm) alike. The three scripts behind those targets must then print
# the one-line warning with the fix, and stay quiet on an engine that enforces limits, as this
# machine's real one does. Rootless Docker without cgroups gets a warning with its own fix.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/fogdeft-test-memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
# FAKE_MEMORY_LIMIT: what `docker info` reports as MemoryLimit; FAKE_CGROUPS: its cgroup version
# and driver; FAKE_WARNINGS: the warnings it prints on stderr, one per line.
cat >"$work/bin/docker" <<'SH'
#!/bin/sh
case "$*" in
  "info --format {{json .MemoryLimit}}") echo "$FAKE_MEMORY_LIMIT" ;;
  "info --format cgroup v{{.CgroupVersion}}, driver {{.CgroupDriver}}")
    echo "cgroup v${FAKE_CGROUPS% *}, driver ${FAKE_CGROUPS#* }" ;;
  "info --format {{.Swarm.LocalNodeState}}") echo active ;;
  "info --format {{.Swarm.ControlAvailable}}") echo true ;;
  info)
    echo "Server Version: 28.1.1"
    [ -z "$FAKE_WARNINGS" ] || echo "$FAKE_WARNINGS" >&2 ;;
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

# expect_warning WHAT PATTERN: each entry point prints one warning, and it matches PATTERN (the
# engine's cgroups and the fix).
pi_fix='*cgroup_enable=memory cgroup_memory=1*/boot/firmware/cmdline.txt*reboot*'
expect_warning() {
  local what=$1 pattern=$2 line count
  while IFS= read -r line; do
    entry=${line%%: *} count=${line#*: } count=${count%% *}
    [ "$count" = 1 ] || fail "$entry on $what printed $count memory-limit warnings, not 1"
    # shellcheck disable=SC2053 # the pattern is a glob
    [[ $line == $pattern ]] || fail "$entry on $what: the warning does not name the cgroups and the fix: $line"
    pass "$entry on $what: one warning line, with the fix"
    warnings+=("${line#*: 1 }")
  done <<<"$(run_all)"
}
expect_quiet() {
  local what=$1 line
  while IFS= read -r line; do
    [[ $line == *": 0 " ]] || fail "${line%%: *} on $what warned: ${line#*: }"
    pass "${line%%: *} on $what: no memory-limit warning"
  done <<<"$(run_all)"
}

no_memory="WARNING: No memory limit support"
export FAKE_CGROUPS="1 cgroupfs"
FAKE_MEMORY_LIMIT=false FAKE_WARNINGS=$no_memory expect_warning "a cgroup v1 engine without the memory cgroup (MemoryLimit false, warning)" "*cgroup v1*$pi_fix"
FAKE_MEMORY_LIMIT=true FAKE_WARNINGS=$no_memory expect_warning "an engine that only warns" "$pi_fix"
FAKE_MEMORY_LIMIT=false FAKE_WARNINGS='' expect_warning "an engine that only reports MemoryLimit false" "$pi_fix"
FAKE_MEMORY_LIMIT=true FAKE_WARNINGS='' expect_quiet "a cgroup v1 engine with memory limits"
# cgroup v2, as Docker's pkg/sysinfo reads it: the memory controller is missing from the cgroup's
# cgroup.controllers (Raspberry Pi OS Bookworm boots with cgroup_disable=memory), so MemoryLimit
# is false and `docker info` warns as on v1; swap goes with it.
export FAKE_CGROUPS="2 systemd"
FAKE_MEMORY_LIMIT=false FAKE_WARNINGS="$no_memory"$'\n'"WARNING: No swap limit support" \
  expect_warning "a cgroup v2 engine without the memory controller (Raspberry Pi OS Bookworm)" "*cgroup v2*$pi_fix"
FAKE_MEMORY_LIMIT=true FAKE_WARNINGS="WARNING: No swap limit support" expect_quiet "a cgroup v2 engine with memory limits and no swap"
# Rootless without cgroups: MemoryLimit false, and docker info warns of that instead.
FAKE_CGROUPS="2 none" FAKE_MEMORY_LIMIT=false \
  FAKE_WARNINGS="WARNING: Running in rootless-mode without cgroups. Systemd is required to enable cgroups in rootless-mode." \
  expect_warning "a rootless engine without cgroups" '*driver none*rootless-mode without cgroups*cgroup v2 with systemd*'
for line in "${warnings[@]}"; do say "a warning: $line"; done | sort -u

# This machine's engine enforces memory limits (its memory controller, v1 or v2): no warning.
require_docker
[ "$(docker info --format '{{json .MemoryLimit}}')" = true ] || fail "this engine reports MemoryLimit $(docker info --format '{{json .MemoryLimit}}')"
out=$(memory_limits_warning 2>&1)
[ -z "$out" ] || fail "the real engine, which enforces memory limits, got: $out"
pass "this machine's engine: MemoryLimit true, and memory_limits_warning says nothing"
