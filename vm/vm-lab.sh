# shellcheck shell=bash
# The VM lab's layout, shared by the vm-lab-*.sh scripts and test-vm-lab.sh:
# `. "$(dirname "$0")/vm-lab.sh"` after lib.sh.
#
# The tutorial's cluster as QEMU virtual machines: node 1 is amd64 (the laptop, the manager),
# node 2 arm64 (a Pi 4 on 64-bit Raspberry Pi OS), node 3 armv7 (a Pi 3 on 32-bit). Each boots
# Debian's kernel and runs Debian's docker.io for its own architecture. Their network cards are
# TAP devices on a bridge inside network namespace fogdeft-vm-switch (so the host's firewall
# never sees lab traffic); this host joins it as $VM_SUBNET.1, node N is $VM_SUBNET.1N.
# shellcheck disable=SC2034 # these settings are read by the scripts that source this file
VM=fogdeft-vm
VM_NODES=3
VM_SUBNET=${VM_SUBNET:-172.31.253}          # a /24 that nothing else here uses (the netns lab has .254)
VM_RUN=/run/$VM                               # pid files, consoles, the registry's config
VM_DATA=/var/lib/$VM                          # each node's disk overlay and the registry's storage
VM_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_REGISTRY_PORT=${VM_REGISTRY_PORT:-5055}    # the host's registry, on every address of this host
VM_MEMORY=${VM_MEMORY:-1024}                  # MiB per node
# Guest images, one per architecture, under a key of what they contain (vm/vm-lab-image.sh).
VM_CACHE=${VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/$VM}
VM_SUITE=bookworm
VM_MIRROR=${VM_MIRROR:-http://deb.debian.org/debian}

vm_ip()     { echo "$VM_SUBNET.1$1"; }
vm_name()   { echo "$VM-$1"; }
vm_host()   { echo "tcp://$(vm_ip "$1"):2375"; }
vm_docker() { local node=$1; shift; docker -H "$(vm_host "$node")" "$@"; }
vm_registry() { echo "$VM_SUBNET.1:$VM_REGISTRY_PORT"; }   # the registry as the nodes see it

# Node N's architecture, in Debian's words (amd64, arm64, armhf).
vm_arch() { case "$1" in 1) echo amd64 ;; 2) echo arm64 ;; 3) echo armhf ;; esac; }

# What runs an architecture: QEMU's program and machine, Debian's kernel package, the console.
vm_qemu() {
  case "$1" in
    amd64) echo qemu-system-x86_64 ;;
    arm64) echo qemu-system-aarch64 ;;
    armhf) echo qemu-system-arm ;;
  esac
}
vm_machine() {
  case "$1" in
    amd64) echo "-M pc" ;;                     # plus KVM or TCG, whichever works (vm-lab-up.sh)
    arm64) echo "-M virt -cpu cortex-a72" ;;   # a Pi 4's core
    armhf) echo "-M virt -cpu cortex-a15" ;;   # an armv7 core with the virtualization features virt needs
  esac
}
vm_kernel_package() {
  case "$1" in
    amd64) echo linux-image-amd64 ;;
    arm64) echo linux-image-arm64 ;;
    armhf) echo linux-image-armmp-lpae ;;
  esac
}
vm_console() { case "$1" in amd64) echo ttyS0 ;; *) echo ttyAMA0 ;; esac; }

# What the lab needs from this machine; prints the first thing missing.
vm_missing() {
  [ "$(id -u)" = 0 ] || { echo "root (the lab makes a network namespace, a bridge and TAP devices)"; return; }
  local tool arch
  for arch in amd64 arm64 armhf; do
    command -v "$(vm_qemu "$arch")" >/dev/null || { echo "$(vm_qemu "$arch") (make deps installs it)"; return; }
  done
  for tool in debootstrap mkfs.ext4 depmod modprobe cpio qemu-img docker-registry ip nsenter; do
    command -v "$tool" >/dev/null || { echo "$tool (make deps installs it)"; return; }
  done
  [ -c /dev/net/tun ] || { echo "/dev/net/tun"; return; }
  ip netns list >/dev/null 2>&1 || echo "'ip netns'"
}

# The pid of node N's QEMU, if it runs; the pids of every process of the lab that runs (each
# node's QEMU and the registry).
vm_pid() { live_pid "$VM_RUN/node-$1/qemu.pid"; }
vm_pids() {
  local file
  for file in "$VM_RUN"/node-*/qemu.pid "$VM_RUN/registry.pid"; do live_pid "$file" || true; done
}
# Whether any process of the lab lives, and whether a lab runs here (a killed run's leftover is
# removed; see lab_in_use in lib.sh).
vm_alive() { [ -n "$(vm_pids)" ]; }
vm_lab_in_use() { lab_in_use "VM lab" "$VM_RUN" vm_alive "$VM_SCRIPTS/vm-lab-down.sh"; }

# Runs COMMAND as root on node N itself, in the node's own namespaces, through its Docker API (the
# guests run no ssh server): a throwaway privileged container of busybox-static, taken from the
# node's initramfs, that chroots into the node's root. Its cgroup namespace is the node's too, so
# that /proc/PID/cgroup names the same cgroups as /sys/fs/cgroup (on cgroup v2 Docker gives each
# container a namespace of its own).
vm_exec() {
  local node=$1 dir
  shift
  if ! vm_docker "$node" image inspect "$VM/busybox" >/dev/null 2>&1; then
    dir=$(mktemp -d)
    zcat "$VM_RUN/node-$node/image/initrd.img" | (cd "$dir" && cpio -i -d --quiet bin/busybox)
    [ -x "$dir/bin/busybox" ] || fail "no busybox in $VM_RUN/node-$node/image/initrd.img"
    tar -C "$dir/bin" -c busybox | vm_docker "$node" import - "$VM/busybox" >/dev/null
    rm -rf "$dir"
  fi
  vm_docker "$node" run --rm --privileged --pid=host --net=host --cgroupns=host -v /:/host "$VM/busybox" \
    /busybox chroot /host "$@"
}
