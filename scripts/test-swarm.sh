#!/usr/bin/env bash
# End-to-end test of Scenario 02 on a real (single-node) swarm, through the Makefile's own
# swarm-* targets: deploy, spread, scale, kill a replica, rolling update under load, rollback,
# remove. If the engine is in no swarm, the test makes one and leaves it at the end; it never
# touches a swarm it did not create, beyond its own stack.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
require_docker

export STACK=fogdeft-test-swarm
stack=$STACK
export REGISTRY=fogdeft-test POLL_INTERVAL=500ms PRODUCER_REPLICAS=2
export PRODUCER_PORT
PRODUCER_PORT=$(free_port)

created_swarm=
had_gwbridge=$(docker network ls -q --filter name=^docker_gwbridge$)
case "$(docker info --format '{{.Swarm.LocalNodeState}}')" in
  inactive) created_swarm=1 ;;
  active) [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] ||
    skip_or_fail "this engine is a swarm worker, not a manager" ;;
  *) skip_or_fail "this engine's swarm state is $(docker info --format '{{.Swarm.LocalNodeState}}')" ;;
esac
cleanup() {
  docker rm -f "$stack-poller" >/dev/null 2>&1 || true
  docker stack rm "$stack" >/dev/null 2>&1 || true
  wait_until 60 "stack removed" prints "" docker ps -aq --filter "label=com.docker.stack.namespace=$stack" || true
  docker network rm "${stack}_numbers" >/dev/null 2>&1 || true
  remove_images swarm1 swarm2
  if [ -n "$created_swarm" ]; then
    docker swarm leave --force >/dev/null 2>&1 || true
    # `swarm init` made this bridge, and `swarm leave` keeps it.
    [ -n "$had_gwbridge" ] || docker network rm docker_gwbridge >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
if [ -n "$created_swarm" ]; then
  stack_make swarm-init >/dev/null
  pass "created a single-node swarm for this test (it leaves it at the end)"
fi

use_swarm_net

# `stack deploy` silently drops what Swarm does not support; `stack config` names it.
unsupported=$(docker stack config -c docker-stack.yml 2>&1 >/dev/null) || fail "docker stack config: $unsupported"
[ -z "$unsupported" ] || fail "docker-stack.yml: $unsupported"
pass "docker stack config -c docker-stack.yml: valid, with no unsupported keys"
rotation=$(docker stack config -c docker-stack.yml -c autoscaler/docker-stack.autoscale.yml | rotated_logs 2>&1) ||
  fail "docker-stack.yml with autoscaler/docker-stack.autoscale.yml: $rotation"
pass "the stack files rotate the log of every service: $(cut -d' ' -f1 <<<"$rotation" | tr '\n' ' ')"

stack_make images TAG=swarm1 >/dev/null 2>&1 || fail "make images"
docker tag "$REGISTRY/producer:swarm1" "$REGISTRY/producer:swarm2"
docker tag "$REGISTRY/consumer:swarm1" "$REGISTRY/consumer:swarm2"

stack_make swarm-deploy TAG=swarm1 >/dev/null || fail "make swarm-deploy"
running() { docker service ls --filter "name=${stack}_producer" --format '{{.Replicas}}'; }
[ "$(running)" = 2/2 ] || fail "producer replicas: $(running)"
pass "stack deployed and converged: producer $(running), consumer $(docker service ls --filter "name=${stack}_consumer" --format '{{.Replicas}}')"
for service in producer consumer; do   # the services deployed here (no AUTOSCALE=1)
  expected="json-file $(sed -n "s/^$service //p" <<<"$rotation")"
  logs=$(docker service inspect --format '{{with .Spec.TaskTemplate.LogDriver}}{{.Name}} {{index .Options "max-size"}} {{index .Options "max-file"}}{{end}}' "${stack}_$service")
  [ "$logs" = "$expected" ] || fail "${stack}_$service logs with '$logs', not '$expected'"
  pass "${stack}_$service rotates its tasks' logs: $logs (max-size, max-file)"
done
# The stack's commented node.platform.arch constraints name nodes by their `uname -m`.
arch=$(docker node inspect self --format '{{.Description.Platform.Architecture}}')
[ "$arch" = "$(uname -m)" ] || fail "node.platform.arch is $arch here, but uname -m says $(uname -m)"
pass "node.platform.arch of this node is its uname -m ($arch), as docker-stack.yml's constraints say"

received() { docker service logs --raw "${stack}_consumer" 2>/dev/null | grep -c '^Received number: ' || true; }
replicas_seen() {
  docker service logs --raw "${stack}_consumer" 2>/dev/null |
    sed -n 's/^Received number: .* (from \(.*\))$/\1/p' | sort -u | wc -l
}
wait_until 60 "the consumer's numbers come from 2 different producer replicas" at_least 2 replicas_seen
pass "the consumer's numbers come from $(replicas_seen) replicas: $(docker service logs --raw "${stack}_consumer" 2>/dev/null | sed -n 's/^Received number: .* (from \(.*\))$/\1/p' | sort -u | tr '\n' ' ')"

stack_make swarm-scale N=3 >/dev/null || fail "make swarm-scale N=3"
[ "$(running)" = 3/3 ] || fail "after scaling: $(running)"
pass "scaled to $(running) producer replicas"

# replaced SERVICE REPLICAS VICTIM: the service runs all its replicas again, and VICTIM is not one.
replaced() {
  local ids
  ids=$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_$1") &&
    [ "$(docker service ls --filter "name=${stack}_$1" --format '{{.Replicas}}')" = "$2" ] &&
    ! grep -q "^$3" <<<"$ids"
}
first_container() { docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_$1" | sed -n 1p; }
victim=$(first_container producer)
docker kill "$victim" >/dev/null
before=$(received)
wait_until 60 "Swarm replaces the killed replica" replaced producer 3/3 "$victim"
wait_until 30 "the consumer goes on receiving numbers" at_least $((before + 1)) received
pass "killed a producer container; Swarm replaced it and the consumer goes on receiving"

# A clean exit must be replaced too. Swarm stops an unhealthy container with SIGTERM, both
# programs then exit 0, and `restart_policy: on-failure` would leave that slot empty for good.
for service in producer:3/3 consumer:1/1; do
  victim=$(first_container "${service%:*}")
  docker stop "$victim" >/dev/null
  exit_code=$(docker inspect --format '{{.State.ExitCode}}' "$victim")
  [ "$exit_code" = 0 ] || fail "the stopped ${service%:*} exited $exit_code, not 0"
  wait_until 60 "Swarm replaces the ${service%:*} that exited 0" replaced "${service%:*}" "${service#*:}" "$victim"
done
pass "a producer and a consumer that exit 0 (as after SIGTERM, or a failed health check) are replaced"

poll_through_update "$stack" swarm1 swarm2 "rolling update to swarm2 completed"

stack_make swarm-rollback >/dev/null || fail "make swarm-rollback"
image() { docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${stack}_producer"; }
rolled_back() { [ "$(docker service inspect --format '{{.UpdateStatus.State}}' "${stack}_producer")" = rollback_completed ]; }
wait_until 120 "rollback completed" rolled_back
[[ $(image) == "$REGISTRY/producer:swarm1"* ]] || fail "after the rollback the producer runs $(image)"
pass "rollback returned the producer to $(image)"

stack_make swarm-rm >/dev/null || fail "make swarm-rm"
left=$(docker service ls -q --filter "label=com.docker.stack.namespace=$stack")
left+=$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")
left+=$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")
[ -z "$left" ] || fail "swarm-rm left: $left"
pass "swarm-rm removed every service, container and network of the stack"
