#!/usr/bin/env bash
# `make vm-lab-exec NODE=N CMD="..."`: runs a command as root on VM lab node N, for example
# CMD="nsenter --net=/var/run/docker/netns/ingress_sbox ipvsadm -Ln" (Swarm's IPVS tables).
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/vm-lab.sh"
{ [ $# -ge 2 ] && [[ $1 =~ ^[1-9]$ ]] && [ "$1" -le "$VM_NODES" ]; } || fail "usage: $0 NODE COMMAND [ARG...]"
vm_pid "$1" >/dev/null || fail "VM lab node $1 is not running (make vm-lab-up starts the lab)"
vm_exec "$@"
