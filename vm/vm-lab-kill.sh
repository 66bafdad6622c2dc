#!/usr/bin/env bash
# `make vm-lab-kill NODE=N`: a power cut on VM lab node N. Its QEMU process is killed outright, so
# the node vanishes without a goodbye to the swarm. Only `make vm-lab-down` brings nothing back.
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/vm-lab.sh"
{ [ $# -eq 1 ] && [[ $1 =~ ^[1-9]$ ]] && [ "$1" -le "$VM_NODES" ]; } || fail "usage: $0 NODE (1..$VM_NODES)"
pid=$(vm_pid "$1") || fail "VM lab node $1 is not running (make vm-lab-up starts the lab)"
kill -9 "$pid"
wait_until 10 "node $1's QEMU (pid $pid) exits" gone "$pid"
say "node $1 ($(vm_name "$1"), $(vm_ip "$1")) is dead; the manager marks it Down within seconds: docker node ls"
