#!/usr/bin/env bash
# Rolling update of both services of STACK to REGISTRY/<program>:TAG, one replica at a time,
# each new replica healthy before an old one stops (update_config in docker-stack.yml).
# Usage: scripts/swarm-update.sh STACK   (env: REGISTRY, TAG)
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 STACK"
stack=$1 registry=${REGISTRY:-fogdeft} tag=${TAG:-latest}
require_manager
resolve=()
[[ $registry == */* ]] || resolve=(--no-resolve-image)   # local images: use what each node has
for program in producer consumer; do
  service="${stack}_$program"
  docker service inspect "$service" >/dev/null 2>&1 || fail "no service $service: run 'make swarm-deploy' first"
  docker service update --quiet --detach=false "${resolve[@]}" --image "$registry/$program:$tag" "$service" >/dev/null
  # The update counts as done after its monitor window (update_config.monitor) has passed.
  state() { docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$service"; }
  not_updating() { [ "$(state)" != updating ]; }
  wait_until 120 "update of $service finished" not_updating
  state=$(state)
  case "$state" in
    completed | "") say "updated $service to $registry/$program:$tag" ;;
    *) fail "update of $service ended '$state': $(docker service inspect --format '{{.UpdateStatus.Message}}' "$service")" ;;
  esac
done
