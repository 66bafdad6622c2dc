#!/usr/bin/env bash
# The producer's memory budget on this machine's engine, cgroup v1 or v2: its image with Compose's
# memory limit and MAX_CONNECTIONS, against hostile clients of every kind (issue 18) on loopback.
# scripts/memory-budget.sh says what it checks; the VM lab runs the same check on a cgroup v2 guest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/memory-budget.sh"
cd "$(dirname "$0")/.."
require_docker
python3 -c 'import yaml' 2>/dev/null || skip_or_fail "test-memory reads docker-compose.yml with PyYAML: no python3-yaml (make deps installs it)"
# The figures are read in the engine's cgroup files, so the engine must run here, and limit memory.
case "${DOCKER_HOST:-unix://}" in
  unix://*) ;;
  *) skip_or_fail "test-memory reads the container's cgroup on the engine's machine, and DOCKER_HOST=$DOCKER_HOST is another" ;;
esac
[ "$(docker info --format '{{json .MemoryLimit}}')" = true ] ||
  skip_or_fail "this Docker engine cannot enforce memory limits (docker info: MemoryLimit false)"

export REGISTRY=fogdeft-test TAG=memory
cleanup() {
  memory_budget_cleanup
  remove_images "$TAG"
}
trap cleanup EXIT

say "building images"
make --no-print-directory images >/dev/null
on_this_machine() { "$@"; }
memory_budget "$REGISTRY/producer:$TAG" 127.0.0.1 on_this_machine
