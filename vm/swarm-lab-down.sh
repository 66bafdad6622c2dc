#!/usr/bin/env bash
# `make swarm-lab-down`: removes every process, namespace, link, cgroup and folder of the swarm
# lab, whatever state a run left it in. It touches nothing else.
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lab.sh"
[ "$(id -u)" = 0 ] || fail "removing the swarm lab needs root"

for node in $(seq "$LAB_NODES"); do
  lab_kill "$node"
done
# Cgroups go leaves first; runc made the containers' ones in every hierarchy.
for root in "$LAB_CGROUP" /sys/fs/cgroup/*/"$LAB"; do
  [ ! -d "$root" ] || find "$root" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
for node in $(seq "$LAB_NODES"); do
  ip netns del "$(lab_ns "$node")" 2>/dev/null || true
done
switch_down "$LAB"
# Made by swarm-lab-up.sh only if it was missing (the nodes mount a tmpfs on it).
[ ! -e "$LAB_RUN/made-run-containerd" ] || rmdir /run/containerd 2>/dev/null || true
[ ! -e "$LAB_RUN/made-run-sshd" ] || rmdir /run/sshd 2>/dev/null || true   # by lab-sshd.sh
rm -rf "$LAB_RUN" "$LAB_DATA"

mapfile -t left < <(network_left "$LAB")
for root in "$LAB_CGROUP" /sys/fs/cgroup/*/"$LAB"; do [ ! -e "$root" ] || left+=("$root"); done
[ ${#left[@]} -eq 0 ] || fail "could not remove: ${left[*]}"
say "swarm lab removed"
