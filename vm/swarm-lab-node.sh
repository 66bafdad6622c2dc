#!/usr/bin/env bash
# `make swarm-lab-kill|start|cut|heal NODE=N`: what happens to a Pi, done to lab node N.
#   kill   a power cut: its dockerd, containerd and containers die at once, without a goodbye
#   start  power back: its dockerd starts again from its data root and rejoins the swarm
#   cut    its network cable pulled: it runs on, alone
#   heal   the cable back in
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lab.sh"
[ $# -eq 2 ] || bad_config "usage: $0 kill|start|cut|heal NODE"
action=$1 node=$2
lab_check_node "$node"
[ -d "$LAB_RUN/node-$node" ] || fail "no lab node $node here: run 'make swarm-lab-up' first"
case $action in
  kill)  lab_kill "$node" && say "node $node ($(lab_ip "$node")) is dead; the managers mark it Down within seconds: docker node ls" ;;
  start) lab_up "$node" && say "node $node ($(lab_ip "$node")) is up again; it rejoins the swarm by itself" ;;
  cut)   lab_cut "$node" && say "node $node ($(lab_ip "$node")) is cut off from the others" ;;
  heal)  lab_heal "$node" && say "node $node ($(lab_ip "$node")) is connected again" ;;
  *)     bad_config "usage: $0 kill|start|cut|heal NODE" ;;
esac
