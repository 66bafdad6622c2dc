#!/usr/bin/env bash
# Removes stack STACK and waits until its containers and network are gone.
# Usage: scripts/swarm-rm.sh STACK
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 STACK"
stack=$1
require_manager
# `docker stack rm` removes the network right after the services, and fails if a task still uses
# it (the producers drain for SHUTDOWN_DELAY). Then the network goes once the tasks have stopped.
errors=$(docker stack rm "$stack" 2>&1 >/dev/null) || grep -q 'is in use by task' <<<"$errors" ||
  fail "docker stack rm $stack: $errors"
networks() { docker network ls -q --filter "label=com.docker.stack.namespace=$stack"; }
gone() {
  [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] || return 1
  # shellcheck disable=SC2046 # one network ID per word
  [ -z "$(networks)" ] || docker network rm $(networks) >/dev/null 2>&1
  [ -z "$(networks)" ]
}
wait_until 60 "stack $stack removed" gone
say "removed stack $stack: no service, container or network of it is left"
