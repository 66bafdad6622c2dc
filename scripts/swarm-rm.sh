#!/usr/bin/env bash
# Removes stack STACK and waits until its containers and network are gone.
# Usage: scripts/swarm-rm.sh STACK
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 STACK"
stack=$1
require_manager
docker stack rm "$stack" >/dev/null
gone() {
  [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] &&
    [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")" ]
}
wait_until 60 "stack $stack removed" gone
say "removed stack $stack: no service, container or network of it is left"
