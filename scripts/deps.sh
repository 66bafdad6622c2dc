#!/usr/bin/env bash
# `make deps`: installs on Debian or Ubuntu what `make test` needs beyond rustup and Docker;
# `make deps WHAT=bench` what `make bench` needs. CI runs `make deps` too, so this list is tested.
# Usage: scripts/deps.sh [test|bench]
. "$(dirname "$0")/lib.sh"
what=${1:-test}

case "$what" in
  test)
    packages=(
      curl file iproute2 procps        # the end-to-end scripts; ip netns for the swarm lab
      prometheus                        # promtool checks /metrics; make test-autoscale runs it
      hey                               # the load generator of make test-autoscale
      qemu-user                         # runs the arm64, armv7 and armv6 binaries
      binutils                          # readelf: the arm binaries' architecture tags
      docker-registry                   # a real registry for the multi-arch test
      openssh-server openssh-client     # the stand-in Pi for `make pi-install`
      shellcheck                        # make lint checks every script
      # The VM lab: QEMU for amd64, arm64 and armv7 guests, and what builds their images.
      qemu-system-x86 qemu-system-arm qemu-utils debootstrap e2fsprogs kmod cpio ipvsadm
    )
    ;;
  bench)
    packages=(
      wrk hey                           # the load generators
      nginx-light python3-flask golang-go   # what we are measured against
      python3-matplotlib                # the chart
    )
    ;;
  *) fail "usage: $0 [test|bench]" ;;
esac

sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || fail "run as root, or install: apt-get install ${packages[*]}"
  sudo=(sudo)
fi
"${sudo[@]}" apt-get update -qq
# On bookworm, qemu-system-* is 7.2, and a qemu-utils from backports (10.x), as on some Debian
# images, Breaks qemu-system-common 7.2: take bookworm's (a downgrade if need be).
if apt-cache policy qemu-utils | grep -q ' bookworm/main '; then
  packages=("${packages[@]/#qemu-utils/qemu-utils/bookworm}")
fi
say "installing: ${packages[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  --allow-downgrades "${packages[@]}" >/dev/null
if [ "$what" = test ]; then
  rustup component add rustfmt clippy
fi
say "ready for make $what"
