# shellcheck shell=bash
# Shared helpers for the scripts in this folder: `. "$(dirname "$0")/lib.sh"`.
# Every test script prints one PASS/FAIL line per check, and a visible SKIP when it cannot run.
set -euo pipefail

say()  { printf '==> %s\n' "$*"; }
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# A missing prerequisite is a SKIP, except under REQUIRE_DOCKER=1 (set by .ci/run), where it fails.
# `skip` says so and goes on with the next step; `skip_or_fail` also ends the script (exit 0).
skip() {
  if [ "${REQUIRE_DOCKER:-0}" = 1 ]; then fail "$1 (and REQUIRE_DOCKER=1)"; fi
  printf 'SKIP: %s\n' "$1"
}
skip_or_fail() { skip "$1"; exit 0; }
# missing_tools TOOL...: prints the ones that are not on PATH (nothing when all are there).
missing_tools() { local tool; for tool in "$@"; do command -v "$tool" >/dev/null || printf '%s ' "$tool"; done; }
# require_tools WHAT TOOL...: the test's SKIP (a failure under REQUIRE_DOCKER=1) unless every TOOL is there.
require_tools() {
  local what=$1 missing
  shift
  missing=$(missing_tools "$@")
  [ -z "$missing" ] || skip_or_fail "$what needs ${missing% } (make deps installs it)"
}
require_docker() {
  docker info >/dev/null 2>&1 || skip_or_fail "no Docker engine reachable"
}

# memory_limits_warning: one line on stderr when the engine cannot enforce memory limits, so that
# the mem_limit and memory limits of our Compose and stack files would silently do nothing. That is
# Raspberry Pi OS as it comes: it boots without the memory cgroup (cgroup_disable=memory), and
# `docker info` only warns. On cgroup v1 and v2 alike the engine then reports MemoryLimit false and
# warns "No memory limit support" (on v2, when its cgroup lists no memory controller). Rootless
# Docker without cgroups (cgroup driver "none") reports MemoryLimit false too, and needs another fix.
# make compose-up, swarm-init and swarm-deploy call it; nothing else changes, so it never fails.
memory_limits_warning() {
  local supported warnings cgroups said fix
  supported=$(docker info --format '{{json .MemoryLimit}}' 2>/dev/null) || return 0
  warnings=$(docker info 2>&1 >/dev/null) || return 0
  if [ "$supported" != false ] && ! grep -q 'No memory limit support' <<<"$warnings"; then return 0; fi
  cgroups=$(docker info --format 'cgroup v{{.CgroupVersion}}, driver {{.CgroupDriver}}' 2>/dev/null) ||
    cgroups="cgroup version unknown"
  said='No memory limit support'
  fix='on a Pi, add cgroup_enable=memory cgroup_memory=1 to the line in /boot/firmware/cmdline.txt, then reboot'
  if [[ $cgroups == *"driver none" ]]; then
    said='Running in rootless-mode without cgroups'
    fix='rootless Docker limits memory only on cgroup v2 with systemd'
  fi
  printf 'WARNING: this Docker engine (%s) cannot enforce memory limits (docker info: "%s"); %s\n' "$cgroups" "$said" "$fix" >&2
}

# rotated_logs: reads a merged Compose or stack file (what `compose config` or `docker stack
# config` prints) and prints "SERVICE MAX-SIZE MAX-FILE" for each of its services; fails, naming
# them, if some service's log is not rotated (the json-file driver with max-size and max-file).
rotated_logs() {
  python3 -c '
import sys
try:
    import yaml
except ImportError:
    sys.exit("reading Compose files needs PyYAML for python3 (pip install pyyaml)")
unrotated = []
for name, service in sorted(yaml.safe_load(sys.stdin)["services"].items()):
    logging = service.get("logging") or {}
    options = logging.get("options") or {}
    if logging.get("driver") == "json-file" and options.get("max-size") and options.get("max-file"):
        print(name, options["max-size"], options["max-file"])
    else:
        unrotated.append(name)
if unrotated:
    sys.exit("logs not rotated (json-file with max-size and max-file): " + ", ".join(unrotated))
'
}

# wait_until SECONDS WHAT COMMAND [ARG...]: runs COMMAND every 0.2 s until it succeeds, or fails
# after SECONDS with "WHAT (not within SECONDS s)". COMMAND is usually a small function.
wait_until() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what (not within ${limit}s)"
    sleep 0.2
  done
}
# Conditions for wait_until: `at_least N COMMAND...` holds when COMMAND prints a number >= N,
# `prints TEXT COMMAND...` when it prints exactly TEXT.
at_least() { local n=$1; shift; [ "$("$@")" -ge "$n" ]; }
prints()   { local text=$1; shift; [ "$("$@")" = "$text" ]; }

# Condition for wait_until: `gone PID...` holds once none of these processes exists any more
# (not even as a zombie that its parent has yet to reap).
gone() { local pid; for pid in "$@"; do [ ! -e "/proc/$pid" ] || return 1; done; }
# live_pid FILE: prints the pid in FILE if that process runs, and fails otherwise.
live_pid() { local pid; pid=$(cat "$1" 2>/dev/null) && [ -d "/proc/$pid" ] && echo "$pid"; }

# page_check URL REPLICA... [OPTION...]: the live page at URL, in headless Chromium, shows numbers
# from every REPLICA (scripts/page-check.py says what else it checks). Without chromium it prints
# a SKIP line and the test goes on (under REQUIRE_DOCKER=1 it fails).
page_check() {
  if ! command -v chromium >/dev/null; then
    [ "${REQUIRE_DOCKER:-0}" != 1 ] || fail "no chromium for the live page at $1 (and REQUIRE_DOCKER=1)"
    printf 'SKIP: the live page at %s: no chromium (make deps installs it)\n' "$1"
    return 0
  fi
  "$(dirname "${BASH_SOURCE[0]}")/page-check.py" "$@" || fail "the live page at $1 in Chromium"
}

# REDbot, the HTTP linter, is not packaged by Debian: `make deps` installs this pinned version
# from PyPI into a venv of its own here, and `make test-caching` runs it from there.
# shellcheck disable=SC2034  # used by the scripts that source this file
REDBOT_VENV=${REDBOT_VENV:-/opt/fogdeft/redbot}
# shellcheck disable=SC2034
REDBOT_PACKAGES=(redbot==2.7.1 httplint==2026.10.4)

# A TCP port that is free on this machine right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# bad_config WHAT: one line on stderr and exit 2, the project's rule for bad configuration.
bad_config() { printf 'FAIL: %s\n' "$*" >&2; exit 2; }

# The platforms we build for: the only copy of what the scripts know about each CPU. One row per
# platform, one column per thing to know; the first row names the columns, and the scripts ask
# for a column by that name (platform_info). pi/README.md shows the same table for people.
#   platform  the dist/ folder; Docker's platform with - for / (linux-arm-v7 is linux/arm/v7),
#             which the Dockerfiles rely on, since they name the folder from TARGETARCH
#   machine   what `uname -m` says on it (arm64: macOS's word for aarch64; armv8l: a 64-bit ARM
#             CPU in 32-bit mode)
#   target    the Rust target that scripts/cross.sh builds
#   rust      the Rust toolchain for it, where the default one's release may lack the target's
#             std (scripts/cross.sh says why); "-": the default toolchain
#   arch      Rust's name for the CPU (std::env::consts::ARCH), which the producer reports
#   qemu      what runs its binaries on an x86-64 machine, which the tests do; "-": nothing
#             (-cpu arm1176 is the Pi Zero's and Pi 1's CPU, which has no ARMv7 instruction)
#   file      what `file` says of its binaries; for 32-bit arm, readelf's Tag_CPU_arch is the
#             Docker variant (v7, v6), the oldest CPU the code runs on
PLATFORM_TABLE='
platform     | machine       | target                         | rust   | arch    | qemu                  | file
linux-amd64  | x86_64        | x86_64-unknown-linux-musl      | -      | x86_64  | -                     | x86-64
linux-arm64  | aarch64 arm64 | aarch64-unknown-linux-musl     | -      | aarch64 | qemu-aarch64          | ARM aarch64
linux-arm-v7 | armv7l armv8l | armv7-unknown-linux-musleabihf | 1.93.0 | arm     | qemu-arm              | ARM, EABI5
linux-arm-v6 | armv6l        | arm-unknown-linux-musleabihf   | 1.90.0 | arm     | qemu-arm -cpu arm1176 | ARM, EABI5
'
# The table's rows, as awk splits them: fields at | and the spaces around it, blank lines skipped.
platform_table() { awk -F' *[|] *' -v OFS='|' 'NF { $1 = $1; print }' <<<"$PLATFORM_TABLE"; }

# Every platform, in the table's order: what cross.sh builds and the multi-arch images cover.
# shellcheck disable=SC2034  # used by the scripts that source this file
mapfile -t PLATFORMS < <(platform_table | sed 1d | cut -d'|' -f1)

# platform_info PLATFORM COLUMN: that column of PLATFORM's row ("-" prints nothing). A platform
# that is not in the table is bad configuration: one line, exit 2. Never a guess.
platform_info() {
  local value
  [[ " ${PLATFORMS[*]} " == *" $1 "* ]] || bad_config "unknown platform '$1' (scripts/lib.sh's table has ${PLATFORMS[*]})"
  value=$(platform_table | awk -F'|' -v platform="$1" -v column="$2" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next }
    $1 == platform && c { print $c; found = 1 }
    END { exit !found }') || bad_config "scripts/lib.sh's table of platforms has no column '$2'"
  [ "$value" = - ] || echo "$value"
}

# platform_of_machine MACHINE: the platform of a machine whose `uname -m` says MACHINE; exit 2 if
# none has it (a riscv64 board gets no armv7 binary that would die there).
platform_of_machine() {
  local platform
  platform=$(platform_table | awk -F'|' -v machine="$1" '
    NR > 1 { n = split($2, names, " "); for (i = 1; i <= n; i++) if (names[i] == machine) print $1 }')
  [ -n "$platform" ] || bad_config "unknown machine '$1' (scripts/lib.sh's table has $(platform_table | sed 1d | cut -d'|' -f2 | paste -sd' '))"
  echo "$platform"
}
# This machine's platform.
host_platform() { platform_of_machine "$(uname -m)"; }
# The qemu-user programs that the table names: what the tests need to run every platform.
qemu_programs() {
  local platform emulator
  for platform in "${PLATFORMS[@]}"; do
    emulator=$(platform_info "$platform" qemu)
    [ -z "$emulator" ] || echo "${emulator%% *}"
  done | sort -u
}

# A platform as Docker writes it, linux/arm/v7, and in its two words: arm and v7 (none for amd64).
docker_platform() { platform_info "$1" platform >/dev/null && echo "${1//-//}"; }
platform_arch()    { local p=${1#linux-}; echo "${p%%-*}"; }
platform_variant() { local p=${1#linux-}; [ "$p" = "${p#*-}" ] || echo "${p#*-}"; }

# The programs that cross.sh builds and build-images.sh puts into images, one image each.
PROGRAMS=(producer consumer autoscaler)
# dockerfile PROGRAM: its Dockerfile, from the repository's root. The tutorial's two are at the
# top; the autoscaler's is with the rest of it, in autoscaler/.
dockerfile() { if [ "$1" = autoscaler ]; then echo autoscaler/Dockerfile-autoscaler; else echo "Dockerfile-$1"; fi; }

# The Macs, Intel and Apple silicon, that the programs build for natively. lint.sh checks and
# lints them for both (no linker needed); deps.sh adds their standard libraries to rustup.
# shellcheck disable=SC2034  # used by the scripts that source this file
MAC_TARGETS=(x86_64-apple-darwin aarch64-apple-darwin)

# What tests clean up: `remove_images TAG...` removes REGISTRY/PROGRAM:TAG of every program,
# `remove_images_under PREFIX` every image of this host named PREFIX/...
remove_images() {
  local tag program
  for tag in "$@"; do
    for program in "${PROGRAMS[@]}"; do docker rmi "$REGISTRY/$program:$tag" >/dev/null 2>&1 || true; done
  done
}
remove_images_under() {
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$1/" | xargs -r docker rmi >/dev/null 2>&1 || true
}

# The version in Cargo.toml, for image labels.
project_version() { sed -n 's/^version = "\(.*\)"/\1/p;T;q' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.toml"; }

# The network of a lab (swarm-lab, vm-lab): a bridge br0 inside network namespace NAME-switch, so
# that this host's firewall never sees the lab's traffic, and this host joined to it as SUBNET.1
# through veth NAME. The nodes' cables plug into br0. switch_down removes it all.
switch_up() {
  local name=$1 subnet=$2 switch=$1-switch
  ip netns add "$switch"
  ip -n "$switch" link add br0 type bridge
  ip -n "$switch" link set br0 up
  ip link add "$name" type veth peer name host netns "$switch"
  ip addr add "$subnet.1/24" dev "$name"
  ip link set "$name" up
  ip -n "$switch" link set host master br0 up
}
switch_down() {
  ip netns del "$1-switch" 2>/dev/null || true   # its bridge and cables go with it
  ip link del "$1" 2>/dev/null || true             # gone with the switch already, unless that failed
}
# network_left NAME: what is left of lab NAME's network namespaces and switch, one per line.
network_left() {
  local ns
  for ns in $(ip netns list | awk '{print $1}'); do [[ $ns != "$1"-* ]] || echo "netns $ns"; done
  ! ip link show "$1" >/dev/null 2>&1 || echo "link $1"
}

# Swarm's VIPs and routing mesh need IPVS in the kernel; without it, use SWARM_NET=dnsrr.
ipvs_available() { [ -e /proc/net/ip_vs ] || [ -d /sys/module/ip_vs ] || modinfo ip_vs >/dev/null 2>&1; }
# use_swarm_net: exports the SWARM_NET that this kernel can do, and says which.
use_swarm_net() {
  if ipvs_available; then export SWARM_NET=vip; else export SWARM_NET=dnsrr; fi
  say "networking: SWARM_NET=$SWARM_NET (IPVS $([ "$SWARM_NET" = vip ] && echo present || echo absent) in this kernel)"
}

# lab_in_use NAME RUN ALIVE DOWN: true while a NAME runs here. RUN is its folder, the function
# ALIVE holds while any of its processes lives, the script DOWN removes it. A run that was killed
# leaves a lab behind: its folder with no process alive, or a lab that a test started (RUN/owner
# holds the pid in LAB_OWNER, which tests set) after that test is gone. Such a leftover is removed
# here, so that it never blocks the next run; a lab that a person started is never touched.
lab_in_use() {
  local name=$1 run=$2 alive=$3 down=$4 owner
  [ -e "$run" ] || return 1
  owner=$(cat "$run/owner" 2>/dev/null) || owner=
  if "$alive" && { [ -z "$owner" ] || [ -e "/proc/$owner" ]; }; then return 0; fi
  say "removing the $name that a killed run left behind"
  "$down" >/dev/null || fail "could not remove the $name that a killed run left behind: run $down"
  return 1
}
# lab_owner RUN: the lab in folder RUN belongs to the test whose pid is in LAB_OWNER, if any.
lab_owner() { [ -z "${LAB_OWNER:-}" ] || echo "$LAB_OWNER" >"$1/owner"; }

# require_lab NAME MISSING IN_USE: a test's SKIP (a failure under REQUIRE_DOCKER=1) unless this
# machine has a Docker engine and what lab NAME needs (MISSING prints what it lacks), and no such
# lab is running (IN_USE holds while one is). The test then owns the lab it starts.
require_lab() {
  local name=$1 missing
  require_docker
  missing=$("$2")
  [ -z "$missing" ] || skip_or_fail "the $name needs $missing"
  ! "$3" || skip_or_fail "a $name is already running here (its down target removes it)"
  export LAB_OWNER=$$
}

# form_swarm NODES MANAGERS DOCKER IP SECONDS [INIT_ARG...]: node 1 starts a swarm, nodes 2 to
# MANAGERS join it as managers and the rest as workers; `DOCKER N ARG...` runs docker on node N
# and `IP N` prints its address. Then waits up to SECONDS until every node is Ready.
form_swarm() {
  local nodes=$1 managers=$2 docker=$3 ip=$4 limit=$5 role node
  shift 5
  "$docker" 1 swarm init --advertise-addr "$("$ip" 1)" "$@" >/dev/null
  for node in $(seq 2 "$nodes"); do
    role=worker
    [ "$node" -gt "$managers" ] || role=manager
    "$docker" "$node" swarm join --token "$("$docker" 1 swarm join-token -q "$role")" \
      --advertise-addr "$("$ip" "$node")" "$("$ip" 1):2377" >/dev/null
  done
  wait_until "$limit" "all $nodes nodes Ready" nodes_ready "$nodes" "$docker"
}
# nodes_ready NODES DOCKER: the manager (node 1) sees NODES nodes Ready.
nodes_ready() { [ "$("$2" 1 node ls --format '{{.Status}}' | grep -c '^Ready$')" = "$1" ]; }

# `make` for the stack a test works on: the swarm targets act on stack $STACK.
stack_make() { make --no-print-directory STACK="${STACK:?}" "$@"; }

# Swarm helpers. Every `make swarm-*` target talks to the engine in DOCKER_HOST, which can be a
# Pi manager (over ssh://) or the swarm lab's manager.
require_manager() {
  docker info >/dev/null 2>&1 || fail "no Docker engine reachable (is DOCKER_HOST right?)"
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] ||
    fail "this engine is not a swarm manager: run 'make swarm-init' first (or point DOCKER_HOST at a manager)"
}

# wait_converged STACK SECONDS: until every service of the stack runs all of its replicas.
converged() {
  local lines
  lines=$(docker stack services "$1" --format '{{.Replicas}}') || return 1
  [ -n "$lines" ] && ! grep -qvE '^([1-9][0-9]*)/\1( |$)' <<<"$lines"
}
wait_converged() {
  wait_until "$2" "stack $1 converged: $(docker stack services "$1" --format '{{.Name}} {{.Replicas}}' 2>&1 | tr '\n' ' ')" converged "$1"
}

# A client that polls 10 times a second and logs every answer, for the checks that nothing fails
# while the stack changes. With a URL it is this host's consumer binary (from dist/, built by
# make images or images-multiarch), polling through the routing mesh; without one, a container
# STACK-poller of REGISTRY/consumer:TAG inside the stack's overlay network.
# poller_start STACK TAG [URL]; poller_log; poller_count PREFIX; poller_stop
# A poll fails when no answer comes within REQUEST_TIMEOUT (the consumer's own setting), 1 s
# unless the lab sets it.
poller_start() {
  poller_pid="" poller_name=$1-poller
  if [ -n "${3:-}" ]; then
    local platform
    platform=$(host_platform)
    poller_file=$(mktemp /tmp/fogdeft-poller.XXXXXX)
    "dist/$platform/consumer" \
      --url "$3" --interval 100ms --timeout "${REQUEST_TIMEOUT:-1s}" >"$poller_file" 2>&1 &
    poller_pid=$!
  else
    docker run -d --name "$poller_name" --network "$1_numbers" "$REGISTRY/consumer:$2" \
      --url http://producer:5000/number --interval 100ms --timeout "${REQUEST_TIMEOUT:-1s}" >/dev/null
  fi
}
poller_log() {
  if [ -n "$poller_pid" ]; then cat "$poller_file"; else docker logs "$poller_name" 2>&1; fi
}
poller_count() { poller_log | grep -c "^$1" || true; }
poller_stop() {
  if [ -n "$poller_pid" ]; then
    kill "$poller_pid" 2>/dev/null || true
    wait "$poller_pid" 2>/dev/null || true
  else
    docker stop "$poller_name" >/dev/null 2>&1 || true
  fi
}
poller_remove() {
  poller_stop
  if [ -n "${poller_pid:-}" ]; then rm -f "$poller_file"; else docker rm -f "${poller_name:-}" >/dev/null 2>&1 || true; fi
  poller_pid="" poller_name=""
}

# The rolling-update check of the swarm tests: a poller (above) asks 10 times a second all
# through `make swarm-update TAG=NEW`, and every poll must be answered. WHAT names the update in
# the PASS line. Usage: poll_through_update STACK OLD_TAG NEW_TAG WHAT [URL]
poll_through_update() {
  local stack=$1 old=$2 new=$3 what=$4 image ok failed
  poller_start "$stack" "$old" "${5:-}"
  wait_until 30 "the poller receives numbers" at_least 5 poller_count "Received number: "
  make --no-print-directory STACK="$stack" swarm-update TAG="$new" >/dev/null || fail "make swarm-update TAG=$new"
  image=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${stack}_producer")
  [[ $image == "$REGISTRY/producer:$new"* ]] || fail "after the update the producer runs $image"
  poller_stop
  ok=$(poller_count "Received number: ") failed=$(poller_count "Error fetching the number: ")
  say "during the rolling update: $ok requests answered, $failed failed"
  [ "$failed" -eq 0 ] || fail "$failed requests failed during the rolling update: $(poller_log | grep '^Error' | sed -n 1,3p)"
  poller_remove
  pass "$what with 0 failed requests out of $ok"
}

# rust_target TARGET [TOOLCHAIN]: installs TOOLCHAIN (default: the default one) and its std for
# TARGET, if missing. A fresh machine has only the host target.
rust_target() {
  local target=$1 toolchain=${2:-} rustup_plus=() installed
  if [ -n "$toolchain" ]; then
    rustup_plus=("+$toolchain")
    installed=$(rustup toolchain list)
    grep -q "^$toolchain-" <<<"$installed" ||
      rustup toolchain install "$toolchain" --profile minimal --no-self-update
  fi
  installed=$(rustup "${rustup_plus[@]}" target list --installed)
  grep -qx "$target" <<<"$installed" || rustup "${rustup_plus[@]}" target add "$target"
}

# cargo_target_var TARGET NAME: the name of cargo's setting NAME (LINKER, RUNNER) for TARGET,
# as an environment variable: CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_LINKER.
cargo_target_var() { echo "CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$1")_$2"; }
