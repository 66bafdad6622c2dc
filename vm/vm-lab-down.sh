#!/usr/bin/env bash
# `make vm-lab-down`: stops every virtual machine and the registry of the VM lab, and removes its
# network, overlays and folders, whatever state a run left it in. It returns once all of it is
# gone. The cached guest images stay (make vm-lab-clean removes them).
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/vm-lab.sh"
[ "$(id -u)" = 0 ] || fail "removing the VM lab needs root"

mapfile -t pids < <(vm_pids)
if [ ${#pids[@]} -gt 0 ]; then
  # A QEMU that gets SIGTERM exits at once; the disks are throwaway overlays.
  kill "${pids[@]}" 2>/dev/null || true
  wait_until 10 "the VM lab's processes exit (${pids[*]})" gone "${pids[@]}"
fi

switch_down "$VM"   # the TAP devices go with the switch
rm -rf "$VM_RUN" "$VM_DATA"

mapfile -t left < <(network_left "$VM")
[ ${#left[@]} -eq 0 ] || fail "could not remove: ${left[*]}"
say "VM lab removed (the guest images stay cached in $VM_CACHE)"
