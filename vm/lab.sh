# shellcheck shell=bash
# The swarm lab's layout, shared by the swarm-lab-*.sh scripts and the tests and demo that run on
# the lab: `. "$(dirname "$0")/lab.sh"` after lib.sh.
#
# Node N is a Docker host of its own: a dockerd (with its own containerd) in network namespace
# fogdeft-lab-N with address $LAB_SUBNET.1N, in a UTS namespace with hostname fogdeft-lab-N, and
# in the cgroup $LAB_CGROUP/node-N together with everything it starts. The nodes' eth0s meet on a
# bridge inside namespace fogdeft-lab-switch, which this host joins as $LAB_SUBNET.1.
# shellcheck disable=SC2034 # these settings are read by the scripts that source this file
LAB=${LAB:-fogdeft-lab}                      # another name (<= 12 letters) runs a second lab
LAB_SUBNET=${LAB_SUBNET:-172.31.254}        # a /24 that nothing else on this host uses
LAB_RUN=/run/$LAB                            # sockets, pid files, exec roots, logs
LAB_DATA=/var/lib/$LAB                       # data roots: images, containers, swarm state
# How many nodes, and how many of them (the first ones) manage: 3 and 1, or 5 and 3 for a
# quorum that survives a lost manager (the drills). A running lab's own layout wins, so that
# every later command sees the lab as it was made.
if ! read -r LAB_NODES LAB_MANAGERS 2>/dev/null <"$LAB_RUN/layout"; then
  LAB_NODES=${LAB_NODES:-3} LAB_MANAGERS=${LAB_MANAGERS:-1}
fi
LAB_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
  LAB_CGROUP=/sys/fs/cgroup/$LAB             # cgroup v2
else
  LAB_CGROUP=/sys/fs/cgroup/pids/$LAB        # cgroup v1: the pids hierarchy sees every process
fi

# On cgroup v1 each node also has a cgroup in the cpuacct and memory hierarchies, so that what a
# node spends can be read (lab_node_usage); on v2 the one cgroup holds every controller.
LAB_CGROUPS=("$LAB_CGROUP")
[ -e /sys/fs/cgroup/cgroup.controllers ] || LAB_CGROUPS+=("/sys/fs/cgroup/cpuacct/$LAB" "/sys/fs/cgroup/memory/$LAB")

lab_ns()   { echo "$LAB-$1"; }
lab_ip()   { echo "$LAB_SUBNET.1$1"; }
lab_host() { echo "unix://$LAB_RUN/node-$1/docker.sock"; }
lab_docker() { local node=$1; shift; docker -H "$(lab_host "$node")" "$@"; }

# What the lab needs from this machine; prints the first thing missing.
lab_missing() {
  [ "$(id -u)" = 0 ] || { echo "root (the lab creates network namespaces and runs dockerd)"; return; }
  local tool
  for tool in ip nsenter unshare dockerd containerd runc iptables; do
    command -v "$tool" >/dev/null || { echo "$tool"; return; }
  done
  ip netns list >/dev/null 2>&1 || { echo "'ip netns'"; return; }
  [ -d "$(dirname "$LAB_CGROUP")" ] || echo "a cgroup hierarchy at $(dirname "$LAB_CGROUP")"
}

# lab_cgroup_dirs N PART: node N's cgroup PART (daemon, sshd) in every hierarchy, one per line;
# made if missing. A process joins them all: `for dir in ...; do echo PID >"$dir/cgroup.procs"`.
lab_cgroup_dirs() {
  local root
  for root in "${LAB_CGROUPS[@]}"; do mkdir -p "$root/node-$1/$2" && echo "$root/node-$1/$2"; done
}
# lab_node_usage N: "CPU_NS MEMORY_BYTES PEAK_BYTES" of node N, all its processes and containers
# together (cgroup v1: cpuacct.usage and memory.*usage_in_bytes; v2: cpu.stat, memory.current
# and memory.peak). lab_node_usage_reset N starts a new peak.
lab_node_usage() {
  local dir
  if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    dir=$LAB_CGROUP/node-$1
    echo "$(($(awk '$1 == "usage_usec" {print $2}' "$dir/cpu.stat") * 1000)) $(cat "$dir/memory.current") $(cat "$dir/memory.peak" 2>/dev/null || cat "$dir/memory.current")"
  else
    dir=/sys/fs/cgroup/memory/$LAB/node-$1
    echo "$(cat "/sys/fs/cgroup/cpuacct/$LAB/node-$1/cpuacct.usage") $(cat "$dir/memory.usage_in_bytes") $(cat "$dir/memory.max_usage_in_bytes")"
  fi
}
lab_node_usage_reset() {
  [ -e /sys/fs/cgroup/cgroup.controllers ] || echo 0 >"/sys/fs/cgroup/memory/$LAB/node-$1/memory.max_usage_in_bytes"
}

# Every process of node N: the daemons and the containers they run.
lab_node_pids() { find "$LAB_CGROUP/node-$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true; }
# Whether any process of the lab lives, and whether a lab runs here (a killed run's leftover is
# removed; see lab_in_use in lib.sh).
lab_alive() { local node; for node in $(seq "$LAB_NODES"); do [ -z "$(lab_node_pids "$node")" ] || return 0; done; return 1; }
swarm_lab_in_use() { lab_in_use "swarm lab" "$LAB_RUN" lab_alive "$LAB_SCRIPTS/swarm-lab-down.sh"; }

# lab_check_node N: N names a node of this lab, else usage and exit 2.
lab_check_node() {
  { [[ ${1:-} =~ ^[1-9]$ ]] && [ "$1" -le "$LAB_NODES" ]; } || bad_config "no lab node '${1:-}' (1..$LAB_NODES)"
}

# lab_start N: starts node N's dockerd, the first time or after a kill (its data root keeps its
# swarm state, so it rejoins by itself). It enters the node's network namespace, takes a hostname
# and a private view of mounts (its mounts vanish with it), joins its cgroup, and becomes dockerd.
# The tmpfs on /run/containerd hides any system containerd (dockerd then starts its own) and keeps
# the shims' sockets in. Each daemon gets its own data root, exec root, socket and pid file, as
# Docker's docs ask for several daemons on one host, and an empty config file so that
# /etc/docker/daemon.json cannot clash with these flags. vfs storage works on any file system, even
# inside a container; the images are under 1 MiB, so copying layers costs nothing.
lab_start() {
  local node=$1 run=$LAB_RUN/node-$1
  mkdir -p "$run" "$LAB_DATA/node-$node"
  echo '{}' >"$run/daemon.json"
  # No DNS server: a node's vain attempts to pull from Docker Hub fail at once, not after 10 s.
  echo 'nameserver 127.0.0.1' >"$run/resolv.conf"
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
    </dev/null >>"$run/dockerd.log" 2>&1 &
}
# lab_up N...: starts those nodes together and waits until each dockerd answers.
lab_up() {
  local node
  for node in "$@"; do lab_start "$node"; done
  for node in "$@"; do
    wait_until 60 "node $node's dockerd answers (see $LAB_RUN/node-$node/dockerd.log)" lab_docker "$node" info
  done
}

# A cut cable and its repair: node N's link to the switch goes down, or up again. The node lives
# on, alone: as a Pi whose network cable was pulled.
lab_cut()  { ip -n "$LAB-switch" link set "node$1" down; }
lab_heal() { ip -n "$LAB-switch" link set "node$1" up; }

# Pulls node N's plug: kills every process of the node at once, as a power cut would, and returns
# once they are all gone (a killed process leaves its cgroup before its parent has reaped it).
lab_kill() {
  local node=$1 tries=50 pids seen=()
  while pids=$(lab_node_pids "$node") && [ -n "$pids" ]; do
    # shellcheck disable=SC2206 # one pid per word
    seen+=($pids)
    # shellcheck disable=SC2086 # one pid per word
    kill -9 $pids 2>/dev/null || true
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || fail "node $node: processes survive kill -9: $pids"
    sleep 0.1
  done
  [ ${#seen[@]} -eq 0 ] || wait_until 10 "node $node's processes exit (${seen[*]})" gone "${seen[@]}"
}
