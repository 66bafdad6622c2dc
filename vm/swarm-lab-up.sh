#!/usr/bin/env bash
# `make swarm-lab-up`: three Docker hosts on this machine, each with its own address and hostname,
# joined into one swarm (node 1 manages, nodes 2 and 3 work), with this machine's images loaded
# into each. A rehearsal of the Pi cluster; see vm/README.md, "Three Docker hosts in network
# namespaces".
# With LAB_SSH=1 the hosts form no swarm; instead each runs an sshd on its own address, port 22,
# that lets root in with the key $LAB_RUN/ssh/id (as a Pi lets Ansible in; see tosca/README.md).
# Usage: vm/swarm-lab-up.sh [IMAGE...]   (default: REGISTRY/producer:TAG REGISTRY/consumer:TAG)
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lab.sh"

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

# The daemons. Each gets its own data root, exec root, socket and pid file, as Docker's docs ask
# for several daemons on one host, and an empty config file so that /etc/docker/daemon.json
# cannot clash with these flags. vfs storage works on any file system, even inside a container;
# the images are under 1 MiB, so copying layers costs nothing.
mkdir -p "$LAB_RUN"
lab_owner "$LAB_RUN"
if [ ! -e /run/containerd ]; then
  mkdir /run/containerd && touch "$LAB_RUN/made-run-containerd"
fi
for node in $(seq "$LAB_NODES"); do
  run=$LAB_RUN/node-$node
  mkdir -p "$run" "$LAB_DATA/node-$node"
  echo '{}' >"$run/daemon.json"
  # No DNS server: a node's vain attempts to pull from Docker Hub fail at once, not after 10 s.
  echo 'nameserver 127.0.0.1' >"$run/resolv.conf"
  # Enter the node's network namespace, take a hostname and a private view of mounts (its
  # mounts vanish with it), join its cgroup, and become dockerd. The tmpfs on /run/containerd
  # hides any system containerd (dockerd then starts its own) and keeps the shims' sockets in.
  # shellcheck disable=SC2016 # the inner shell expands $$ and its arguments
  setsid nsenter --net="/run/netns/$(lab_ns "$node")" \
    unshare --uts --mount --propagation slave \
    sh -c 'for dir in $1; do echo $$ >"$dir/cgroup.procs"; done && hostname "$2" &&
      mount -t tmpfs lab /run/containerd &&
      mount --bind "$3/resolv.conf" /etc/resolv.conf && shift 3 && exec "$@"' sh \
    "$(lab_cgroup_dirs "$node" daemon)" "$(lab_ns "$node")" "$run" \
    dockerd --host "$(lab_host "$node")" --data-root "$LAB_DATA/node-$node" \
    --exec-root "$run/exec" --pidfile "$run/docker.pid" --config-file "$run/daemon.json" \
    --storage-driver vfs --cgroup-parent "/$LAB/node-$node/containers" \
    </dev/null >"$run/dockerd.log" 2>&1 &
done
for node in $(seq "$LAB_NODES"); do
  wait_until 60 "node $node's dockerd answers (see $LAB_RUN/node-$node/dockerd.log)" lab_docker "$node" info
done
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
form_swarm "$LAB_NODES" lab_docker lab_ip 60 --dispatcher-heartbeat 2s
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
