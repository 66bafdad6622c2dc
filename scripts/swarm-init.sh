#!/usr/bin/env bash
# Makes this engine a swarm manager (once) and prints the command that joins the workers.
# ADVERTISE_ADDR picks the address the other nodes reach; by default, the one of the default route.
. "$(dirname "$0")/lib.sh"
docker info >/dev/null 2>&1 || fail "no Docker engine reachable"
memory_limits_warning
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
  say "this engine is already in a swarm"
else
  addr=${ADVERTISE_ADDR:-$(ip route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')}
  [ -n "$addr" ] || fail "cannot tell which address to advertise: set ADVERTISE_ADDR=<this node's IP>"
  docker swarm init --advertise-addr "$addr" >/dev/null
  say "swarm initialised; this node is its manager, advertising $addr"
fi
if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ]; then
  say "on each worker (for example each Pi), run:"
  docker swarm join-token worker | sed -n 's/^ *\(docker swarm join .*\)/    \1/p'
fi
