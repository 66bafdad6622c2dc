#!/usr/bin/env bash
# Starts an sshd on each node of a running swarm lab, the way a Pi is reached: root logs in with
# a key, on port 22 of the node's own address. Called by `LAB_SSH=1 swarm-lab-up.sh`; the lab's
# removal stops the daemons and deletes the keys (they live in $LAB_RUN/ssh).
# Each sshd runs in its node's network and UTS namespaces and cgroup, so what Ansible spends
# there counts as the node's, and the docker CLI it runs talks to that node's dockerd.
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lab.sh"
[ -x /usr/sbin/sshd ] || fail "the lab's sshd needs openssh-server (make deps installs it)"

keys=$LAB_RUN/ssh
mkdir -p "$keys"
ssh-keygen -q -t ed25519 -N '' -C "$LAB" -f "$keys/host_key"
ssh-keygen -q -t ed25519 -N '' -C "$LAB" -f "$keys/id"
cp "$keys/id.pub" "$keys/authorized_keys"
# sshd's privilege-separation folder; the lab's removal deletes it only if made here.
[ -d /run/sshd ] || { mkdir /run/sshd && touch "$LAB_RUN/made-run-sshd"; }

for node in $(seq "$LAB_NODES"); do
  run=$LAB_RUN/node-$node
  # SetEnv points the docker CLI at this node's daemon, as /var/run/docker.sock does on a Pi.
  cat >"$run/sshd_config" <<CONF
ListenAddress $(lab_ip "$node")
Port 22
HostKey $keys/host_key
AuthorizedKeysFile $keys/authorized_keys
PidFile $run/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
SetEnv DOCKER_HOST=$(lab_host "$node")
CONF
  # shellcheck disable=SC2016 # the inner shell expands $$ and its arguments
  setsid nsenter --target "$(cat "$run/docker.pid")" --net --uts \
    sh -c 'for dir in $1; do echo $$ >"$dir/cgroup.procs"; done && shift && exec "$@"' sh \
    "$(lab_cgroup_dirs "$node" sshd)" /usr/sbin/sshd -D -e -f "$run/sshd_config" \
    </dev/null >"$run/sshd.log" 2>&1 &
done
# Each node answers over ssh, and its docker CLI reaches its own daemon (named after the node).
own_docker() {
  local name
  name=$(ssh -i "$keys/id" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR "root@$(lab_ip "$1")" docker info --format '{{.Name}}') && [ "$name" = "$(lab_ns "$1")" ]
}
for node in $(seq "$LAB_NODES"); do
  wait_until 20 "node $node's sshd lets root in and reaches its own dockerd (see $LAB_RUN/node-$node/sshd.log)" own_docker "$node"
done
say "sshd on every node, no swarm: ssh -i $keys/id root@$(lab_ip 1)"
