#!/bin/busybox sh
# shellcheck shell=dash
# /init of the VM lab's initramfs: load the drivers for the virtio disk and ext4 (modules in
# Debian's kernel), mount the guest's disk, and hand over to its init. Built into the image by
# vm/vm-lab-image.sh, with busybox-static and the modules of the guest's own architecture.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t devtmpfs dev /dev
# vm/vm-lab-up.sh boots this once under KVM to see whether KVM works on this machine.
if grep -q fogdeft.probe /proc/cmdline; then echo "fogdeft-vm: probe ok"; poweroff -f; fi
# The modules, in the order `modprobe --show-depends` gave when the image was built.
# (Some may not apply to this CPU, such as crc32c-intel under emulation: that is fine.)
while read -r module; do insmod "/$module" 2>/dev/null || true; done </modules.order
# The disk appears once its driver has probed the PCI bus.
tries=100
until [ -b /dev/vda ]; do
  tries=$((tries - 1))
  [ "$tries" -gt 0 ] || { echo "fogdeft-vm: no disk /dev/vda"; exec sh; }
  sleep 0.1
done
mount -t ext4 /dev/vda /newroot || { echo "fogdeft-vm: cannot mount /dev/vda"; exec sh; }
mount --move /dev /newroot/dev
umount /proc
exec switch_root /newroot /bin/busybox init
