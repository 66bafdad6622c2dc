#!/usr/bin/env bash
# The guest image of one architecture for the VM lab, built from Debian's packages only and kept
# in $VM_CACHE under a key of what it contains: this script, the guest files in vm/ and the
# architecture. A second run finds it there. Prints the image's folder: rootfs.img (ext4, never
# written to: each node boots an overlay of it), vmlinuz and initrd.img.
# Usage: vm/vm-lab-image.sh ARCH   (amd64, arm64 or armhf)
#
# How, without emulation: `debootstrap --foreign` resolves and downloads the packages for ARCH;
# its second stage would run their maintainer scripts in a chroot, which for a foreign
# architecture needs binfmt_misc. Instead every package is unpacked here (dpkg-deb is the same on
# every architecture) and the few things their scripts would do for this guest are done below:
# users and groups, the iptables alternative, the modules index. No systemd, no dpkg database:
# the guest's init is busybox with vm/guest/inittab, and it is never upgraded, only rebuilt.
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/vm-lab.sh"
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || fail "usage: $0 ARCH (amd64, arm64 or armhf)"
arch=$1
[ -n "$(vm_qemu "$arch")" ] || fail "unknown architecture '$arch' (amd64, arm64 or armhf)"
packages=docker.io,iproute2,kmod,iptables,ipvsadm,procps,busybox-static,$(vm_kernel_package "$arch")

key=$( (echo "$arch $VM_SUITE $packages"; cat "$0" vm/guest/*) | sha256sum | cut -c1-16)
image=$VM_CACHE/$arch-$key
if [ -s "$image/rootfs.img" ]; then
  echo "$image"
  exit 0
fi

mkdir -p "$VM_CACHE"
work=$(mktemp -d "$VM_CACHE/.build-$arch.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
say "building the $arch guest image (Debian $VM_SUITE: $packages)" >&2
debootstrap --foreign --arch="$arch" --variant=minbase --include="$packages" \
  "$VM_SUITE" "$root" "$VM_MIRROR" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap $arch (log above)"; }
for deb in "$root"/var/cache/apt/archives/*.deb; do
  # Keep the merged-/usr symlinks (bin -> usr/bin) that debootstrap made.
  dpkg-deb --fsys-tarfile "$deb" | tar -C "$root" --keep-directory-symlink -xf -
done
rm -rf "$root/debootstrap" "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/{doc,man,info,locale}
# debootstrap's first stage points /proc at the host's; the guest mounts its own there.
rm -f "$root/proc" && mkdir "$root/proc"

# What the maintainer scripts would have done, as far as this guest needs it.
cp "$root/usr/share/base-passwd/passwd.master" "$root/etc/passwd"
cp "$root/usr/share/base-passwd/group.master" "$root/etc/group"
echo 'docker:x:999:' >>"$root/etc/group"
for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf "xtables-nft-multi" "$root/usr/sbin/$tool"
done
mkdir -p "$root/etc/fogdeft-vm"
cp vm/guest/boot.sh "$root/etc/fogdeft-vm/"
cp vm/guest/inittab "$root/etc/inittab"

# The kernel, and only the modules a virtual Docker host can use (no sound, GPU, USB, ...).
kver=$(basename "$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d)")
modules=$root/lib/modules/$kver/kernel
find "$modules/drivers" -mindepth 1 -maxdepth 1 -type d \
  ! -name net ! -name virtio ! -name block ! -name char -exec rm -rf {} +
rm -rf "$modules/sound"
depmod -b "$root" "$kver"
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"

# The initramfs: busybox-static of this architecture, the disk's drivers, vm/guest/initramfs-init.sh.
initrd=$work/initrd
mkdir -p "$initrd/bin"
cp "$root/bin/busybox" "$initrd/bin/busybox"
cp vm/guest/initramfs-init.sh "$initrd/init"
modprobe -d "$root" -S "$kver" --show-depends -a virtio_pci virtio_blk ext4 |
  sed -n "s|^insmod $root/*||p" | tr -d ' ' | awk '!seen[$0]++' >"$initrd/modules.order"
while read -r module; do
  mkdir -p "$initrd/$(dirname "$module")"
  cp "$root/$module" "$initrd/$module"
done <"$initrd/modules.order"
(cd "$initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.img"

# The disk: ext4 straight from the folder, sparse, with room for the node's images and containers
# (they go to each node's overlay, never into this file).
mkfs.ext4 -q -F -L fogdeft-vm -d "$root" "$work/rootfs.img" 4G >/dev/null
chmod a-w "$work/rootfs.img"
mkdir "$image.tmp"
mv "$work/rootfs.img" "$work/vmlinuz" "$work/initrd.img" "$image.tmp/"
# Older images of this architecture are out of date now.
find "$VM_CACHE" -mindepth 1 -maxdepth 1 -name "$arch-*" ! -name "$(basename "$image").tmp" -exec rm -rf {} +
mv "$image.tmp" "$image"
say "cached the $arch guest image in $image ($(du -sh "$image" | cut -f1))" >&2
echo "$image"
