#!/usr/bin/env bash
# `make vm-lab-up`: the tutorial's cluster as three QEMU virtual machines on this host, joined
# into one swarm, with a registry on this host that they pull from. Node 1 is amd64 and manages,
# node 2 is arm64, node 3 is armv7; see vm/vm-lab.sh and vm/README.md ("The tutorial's
# cluster as virtual machines").
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/vm-lab.sh"
cd "$(dirname "$0")/.."

missing=$(vm_missing)
[ -z "$missing" ] || fail "the VM lab needs $missing"
! vm_lab_in_use || fail "a VM lab is already running here: run 'make vm-lab-down' first"
# Whatever fails from here on, leave nothing half built behind.
on_exit() {
  [ "$1" -ne 0 ] || return 0
  for log in "$VM_RUN"/node-*/console.log; do
    [ ! -s "$log" ] || { echo "--- the end of $log:"; tail -n 15 "$log"; } >&2
  done
  "$VM_SCRIPTS/vm-lab-down.sh"
}
trap 'on_exit $?' EXIT
mkdir -p "$VM_RUN" "$VM_DATA"
lab_owner "$VM_RUN"

# The guest images: from the cache, or built once per architecture (about a minute each).
declare -A images
for node in $(seq "$VM_NODES"); do
  arch=$(vm_arch "$node")
  images[$arch]=$(vm/vm-lab-image.sh "$arch")
done
say "guest images: $(for a in "${!images[@]}"; do printf '%s ' "${images[$a]}"; done)"

# The network: a bridge in a namespace of its own, this host on it as .1, a TAP device per node.
switch_up "$VM" "$VM_SUBNET"
switch=$VM-switch
for node in $(seq "$VM_NODES"); do
  ip -n "$switch" tuntap add dev "tap$node" mode tap
  ip -n "$switch" link set "tap$node" master br0 up
done

# The registry: Debian's docker-registry on every address of this host. This host's engine
# pushes to 127.0.0.1:PORT (plain HTTP is allowed on loopback); the nodes pull from
# $VM_SUBNET.1:PORT, which each lists in insecure-registries, as a Pi on a LAN would.
cat >"$VM_RUN/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $VM_DATA/registry
http:
  addr: :$VM_REGISTRY_PORT
YAML
setsid docker-registry serve "$VM_RUN/registry.yml" </dev/null >"$VM_RUN/registry.log" 2>&1 &
echo $! >"$VM_RUN/registry.pid"
registry_answers() { curl -fsS "http://127.0.0.1:$VM_REGISTRY_PORT/v2/"; }
wait_until 10 "the registry answers on port $VM_REGISTRY_PORT (see $VM_RUN/registry.log)" registry_answers
# Something else may answer there; then ours has exited ("address already in use").
[ -d "/proc/$(cat "$VM_RUN/registry.pid")" ] ||
  fail "the registry exited: $(tail -n 1 "$VM_RUN/registry.log") (is port $VM_REGISTRY_PORT taken? set VM_REGISTRY_PORT)"
say "registry: push to 127.0.0.1:$VM_REGISTRY_PORT from this host; the nodes pull from $(vm_registry)"

# KVM where it works, else QEMU's emulation (TCG). A KVM that hangs is found by booting the amd64
# kernel once with a tiny init that only says hello; the answer is kept beside the images.
kvm_works() {
  [ -w /dev/kvm ] || return 1
  local probe verdict
  probe="$VM_CACHE/kvm-works-$(uname -r)-qemu-$(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')"
  if [ ! -e "$probe" ]; then
    verdict=no
    timeout 20 qemu-system-x86_64 -accel kvm -cpu host -M pc -m 256 -nodefaults -no-user-config \
      -display none -no-reboot -serial stdio -kernel "${images[amd64]}/vmlinuz" \
      -initrd "${images[amd64]}/initrd.img" -append "console=ttyS0 quiet fogdeft.probe" 2>/dev/null |
      grep -q 'fogdeft-vm: probe ok' && verdict=yes
    echo "$verdict" >"$probe"
  fi
  [ "$(cat "$probe")" = yes ]
}
amd64_accel="-accel tcg -cpu max"
if [ "${VM_ACCEL:-}" = kvm ] || { [ -z "${VM_ACCEL:-}" ] && kvm_works; }; then
  amd64_accel="-accel kvm -cpu host"
fi
say "acceleration: amd64 node $(cut -d' ' -f2 <<<"$amd64_accel"), arm nodes tcg (emulated)"

# The nodes. Each boots Debian's kernel with the busybox initramfs, on a copy-on-write overlay
# of the cached image (which stays untouched), and takes its name and address from the kernel's
# command line.
for node in $(seq "$VM_NODES"); do
  arch=$(vm_arch "$node") image=${images[$(vm_arch "$node")]} run=$VM_RUN/node-$node
  mkdir -p "$run" "$VM_DATA/node-$node"
  ln -s "$image" "$run/image"
  qemu-img create -q -f qcow2 -b "$image/rootfs.img" -F raw "$VM_DATA/node-$node/disk.qcow2"
  machine=$(vm_machine "$arch")
  [ "$arch" != amd64 ] || machine+=" $amd64_accel"
  # shellcheck disable=SC2086 # $machine is several words
  nsenter --net="/run/netns/$switch" "$(vm_qemu "$arch")" $machine -m "$VM_MEMORY" -smp 1 \
    -nodefaults -no-user-config -display none -daemonize -pidfile "$run/qemu.pid" \
    -serial "file:$run/console.log" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "console=$(vm_console "$arch") quiet fogdeft.hostname=$(vm_name "$node") fogdeft.ip=$(vm_ip "$node")/24 fogdeft.registry=$(vm_registry)" \
    -drive "if=none,id=disk,format=qcow2,file=$VM_DATA/node-$node/disk.qcow2" -device virtio-blk-pci,drive=disk \
    -netdev "tap,id=lan,ifname=tap$node,script=no,downscript=no" \
    -device "virtio-net-pci,netdev=lan,mac=52:54:00:fd:00:0$node" \
    -device virtio-rng-pci
done
say "booting: $(for n in $(seq "$VM_NODES"); do printf '%s (%s) at %s  ' "$(vm_name "$n")" "$(vm_arch "$n")" "$(vm_ip "$n")"; done)"
for node in $(seq "$VM_NODES"); do
  wait_until 300 "node $node's dockerd answers (see $VM_RUN/node-$node/console.log)" vm_docker "$node" info
done
say "daemons: dockerd answers on every node"

# The swarm, with Docker's default heartbeat (5 s): emulated nodes on a busy host can miss a
# shorter one, and then the manager takes them for lost.
form_swarm "$VM_NODES" 1 vm_docker vm_ip 120
vm_docker 1 node ls -q | xargs docker -H "$(vm_host 1)" node inspect --format \
  '    {{.Description.Hostname}}  {{.Status.State}}  {{.Description.Platform.Architecture}}  {{.Status.Addr}}{{if .ManagerStatus}}  manager{{end}}'
cat <<EOF
==> the VM lab is up. Publish the images, then point the swarm targets at the manager:
    make images-multiarch REGISTRY=127.0.0.1:$VM_REGISTRY_PORT/fogdeft TAG=1.0
    export DOCKER_HOST=$(vm_host 1)
    make swarm-deploy REGISTRY=$(vm_registry)/fogdeft TAG=1.0 PRODUCER_REPLICAS=3 && make swarm-ps
    curl -i http://$(vm_ip 2):5000/number          # any node answers: the routing mesh
    make vm-lab-kill NODE=3                           # pull the plug on a node
    unset DOCKER_HOST; make vm-lab-down               # remove everything
EOF
