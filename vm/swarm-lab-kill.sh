#!/usr/bin/env bash
# `make swarm-lab-kill NODE=N`: a power cut on lab node N. Its dockerd, containerd and containers
# die at once, without a goodbye to the swarm. Only `make swarm-lab-down` brings nothing back.
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lab.sh"
{ [ $# -eq 1 ] && [[ $1 =~ ^[1-9]$ ]] && [ "$1" -le "$LAB_NODES" ]; } || fail "usage: $0 NODE (1..$LAB_NODES)"
[ -d "$LAB_CGROUP/node-$1" ] || fail "no lab node $1 here: run 'make swarm-lab-up' first"
lab_kill "$1"
say "node $1 ($(lab_ip "$1")) is dead; the manager marks it Down within seconds: docker node ls"
