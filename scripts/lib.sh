# shellcheck shell=bash
# Shared helpers for the scripts in this folder: `. "$(dirname "$0")/lib.sh"`.
# Every test script prints one PASS/FAIL line per check, and a visible SKIP when it cannot run.
set -euo pipefail

say()  { printf '==> %s\n' "$*"; }
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# A missing prerequisite is a SKIP, except under REQUIRE_DOCKER=1 (set by .ci/run), where it fails.
skip_or_fail() {
  if [ "${REQUIRE_DOCKER:-0}" = 1 ]; then fail "$1 (and REQUIRE_DOCKER=1)"; fi
  printf 'SKIP: %s\n' "$1"
  exit 0
}
require_docker() {
  docker info >/dev/null 2>&1 || skip_or_fail "no Docker engine reachable"
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

# A TCP port that is free on this machine right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The dist/ folder name of a platform (linux-arm-v7) split into Docker's words: arm and v7.
platform_arch()    { local p=${1#linux-}; echo "${p%%-*}"; }
platform_variant() { local p=${1#linux-}; [ "$p" = "${p#*-}" ] || echo "${p#*-}"; }

# The programs that cross.sh builds and build-images.sh puts into images, one image each.
# shellcheck disable=SC2034 # read by the scripts that source this file
PROGRAMS=(producer consumer autoscaler)

# The version in Cargo.toml, for image labels.
project_version() { sed -n 's/^version = "\(.*\)"/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.toml" | head -n 1; }

# Swarm's VIPs and routing mesh need IPVS in the kernel; without it, use SWARM_NET=dnsrr.
ipvs_available() { [ -e /proc/net/ip_vs ] || [ -d /sys/module/ip_vs ] || modinfo ip_vs >/dev/null 2>&1; }

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

# The rolling-update check of test-swarm.sh and test-swarm-lab.sh. A client inside the stack's
# overlay network (no port needed) polls 10 times a second all through `make swarm-update
# TAG=NEW`, and every poll must be answered. WHAT names the update in the PASS line.
# Usage: poll_through_update STACK OLD_TAG NEW_TAG WHAT   (the poller is container STACK-poller)
poll_through_update() {
  local stack=$1 old=$2 new=$3 what=$4 poller=$1-poller image ok failed
  docker run -d --name "$poller" --network "${stack}_numbers" "$REGISTRY/consumer:$old" \
    --url http://producer:5000/number --interval 100ms --timeout 1s >/dev/null
  polls() { docker logs "$poller" 2>&1 | grep -c "^$1" || true; }
  wait_until 30 "the poller receives numbers" at_least 5 polls "Received number: "
  make --no-print-directory STACK="$stack" swarm-update TAG="$new" >/dev/null || fail "make swarm-update TAG=$new"
  image=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${stack}_producer")
  [[ $image == "$REGISTRY/producer:$new"* ]] || fail "after the update the producer runs $image"
  docker stop "$poller" >/dev/null
  ok=$(polls "Received number: ") failed=$(polls "Error fetching the number: ")
  say "during the rolling update: $ok requests answered, $failed failed"
  [ "$failed" -eq 0 ] || fail "$failed requests failed during the rolling update: $(docker logs "$poller" 2>&1 | grep -m3 '^Error')"
  docker rm "$poller" >/dev/null
  pass "$what with 0 failed requests out of $ok"
}
