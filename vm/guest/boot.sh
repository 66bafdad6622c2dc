#!/bin/sh
# The VM lab's guest start-up, run once by busybox init before dockerd. The node's name, address
# and registry come from the kernel command line (fogdeft.hostname=, fogdeft.ip=,
# fogdeft.registry=), set by vm/vm-lab-up.sh, so every node boots the same cached image.
set -eu
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run
mount -t tmpfs tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /run/lock

arg() { sed -n "s/.*fogdeft\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
hostname "$(arg hostname)"
hostname >/etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$(hostname)" >/etc/hosts
# No DNS server: a vain lookup of Docker Hub fails at once instead of after a timeout.
echo 'nameserver 127.0.0.1' >/etc/resolv.conf
# Without udev nothing loads drivers on demand: the network card's, the random number
# generator's, and what Docker and Swarm's routing mesh need (Debian builds them as modules).
modprobe -a virtio_net virtio_rng overlay br_netfilter veth vxlan ip_vs ip_vs_rr xt_ipvs \
  nf_conntrack iptable_nat iptable_mangle iptable_filter xt_mark xt_nat xt_conntrack xt_addrtype nft_compat
ip link set lo up
ip addr add "$(arg ip)" dev eth0
ip link set eth0 up

# The Docker API on the lab network, as a Pi exposes it to the laptop (the lab network is
# reachable from the host only), and the host's registry, which speaks plain HTTP.
mkdir -p /etc/docker
cat >/etc/docker/daemon.json <<JSON
{
  "hosts": ["unix:///var/run/docker.sock", "tcp://$(arg ip | cut -d/ -f1):2375"],
  "insecure-registries": ["$(arg registry)"],
  "storage-driver": "overlay2",
  "log-driver": "json-file"
}
JSON
echo "fogdeft-vm: $(hostname) ($(uname -m)) at $(arg ip), starting dockerd"
