#!/usr/bin/env bash
# `make swarm-lab-up`: Docker hosts on this machine, each with its own address and hostname, joined
# into one swarm, with this machine's images loaded into each: three (node 1 manages, nodes 2 and 3
# work), or LAB_NODES of them with LAB_MANAGERS managers (5 and 3 for the drills). A rehearsal of
# the Pi cluster; see vm/README.md, "Three Docker hosts in network namespaces".
# With LAB_SSH=1 the hosts form no swarm; instead each runs an sshd on its own address, port 22,
# that lets root in with the key $LAB_RUN/ssh/id (as a Pi lets Ansible in; see tosca/README.md).
# Usage: vm/swarm-lab-up.sh [IMAGE...]   (default: REGISTRY/producer:TAG REGISTRY/consumer:TAG)
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lab.sh"

[[ $LAB_NODES =~ ^[1-9]$ ]] || bad_config "LAB_NODES=$LAB_NODES: from 1 to 9 nodes"
{ [[ $LAB_MANAGERS =~ ^[1-9]$ ]] && [ "$LAB_MANAGERS" -le "$LAB_NODES" ]; } ||
  bad_config "LAB_MANAGERS=$LAB_MANAGERS: from 1 to LAB_NODES ($LAB_NODES) managers"
missing=$(lab_missing)
[ -z "$missing" ] || fail "the swarm lab needs $missing"
! swarm_lab_in_use || fail "a swarm lab is already running here: run 'make swarm-lab-down' first"
images=("$@")
[ ${#images[@]} -gt 0 ] ||
  images=("${REGISTRY:-fogdeft}/producer:${TAG:-latest}" "${REGISTRY:-fogdeft}/consumer:${TAG:-latest}")
for image in "${images[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 || fail "image $image not found here: run 'make images'"
done
# Whatever fails from here on, leave nothing half built behind.
trap '[ $? -eq 0 ] || "$LAB_SCRIPTS/swarm-lab-down.sh"' EXIT

# The network: a switch (a bridge in a namespace of its own, so the host's firewall never sees
# the lab's traffic), this host on it as .1, and one veth cable per node.
switch_up "$LAB" "$LAB_SUBNET"
switch=$LAB-switch
for node in $(seq "$LAB_NODES"); do
  ns=$(lab_ns "$node")
  ip netns add "$ns"
  ip link add eth0 netns "$ns" type veth peer name "node$node" netns "$switch"
  ip -n "$switch" link set "node$node" master br0 up
  ip -n "$ns" addr add "$(lab_ip "$node")/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$LAB_SUBNET.1"
done
say "network: nodes at $(for n in $(seq "$LAB_NODES"); do printf '%s ' "$(lab_ip "$n")"; done)on a bridge; this host is $LAB_SUBNET.1"

# The daemons (lab_start in lab.sh). The layout file keeps this lab's size for later commands.
mkdir -p "$LAB_RUN"
lab_owner "$LAB_RUN"
echo "$LAB_NODES $LAB_MANAGERS" >"$LAB_RUN/layout"
if [ ! -e /run/containerd ]; then
  mkdir /run/containerd && touch "$LAB_RUN/made-run-containerd"
fi
# shellcheck disable=SC2046 # one node a word
lab_up $(seq "$LAB_NODES")
say "daemons: $LAB_NODES dockerd running, one per node"

# Images, straight from this host's engine: no registry needed.
for node in $(seq "$LAB_NODES"); do
  docker save "${images[@]}" | lab_docker "$node" load >/dev/null
done
say "images loaded into every node: ${images[*]}"

if [ "${LAB_SSH:-0}" = 1 ]; then
  "$LAB_SCRIPTS/lab-sshd.sh"
  exit 0
fi

# The swarm. A short heartbeat lets the manager notice a lost node within seconds.
form_swarm "$LAB_NODES" "$LAB_MANAGERS" lab_docker lab_ip 60 --dispatcher-heartbeat 2s
lab_docker 1 node ls --format '{{.Hostname}}  {{.Status}}  {{.ManagerStatus}}'

# Without IPVS there is no routing mesh: then ask from inside the overlay network instead.
net=dnsrr see="docker run --rm --network ${STACK:-fogdeft}_numbers ${REGISTRY:-fogdeft}/consumer:${TAG:-latest} --once --url http://producer:5000/number"
if ipvs_available; then
  net=vip see="curl -i http://$(lab_ip 2):${PRODUCER_PORT:-5000}/number   # any node answers"
fi
cat <<EOF
==> the lab is up. Point the swarm targets at its manager:
    export DOCKER_HOST=$(lab_host 1)
    make swarm-deploy SWARM_NET=$net && make swarm-ps
    $see
    make swarm-lab-kill NODE=3                  # pull the plug on a node
    unset DOCKER_HOST; make swarm-lab-down      # remove everything
EOF
