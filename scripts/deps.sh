#!/usr/bin/env bash
# `make deps`: installs on Debian or Ubuntu what `make test` needs beyond rustup and Docker;
# `make deps WHAT=bench` what `make bench` needs, `make deps WHAT=fuzz` what `make fuzz` needs.
# CI runs `make deps` too, so this list is tested.
# Usage: scripts/deps.sh [test|bench|fuzz]
. "$(dirname "$0")/lib.sh"
what=${1:-test}

case "$what" in
  test)
    packages=(
      curl file iproute2 procps python3   # the end-to-end scripts; ip netns for the swarm lab
      python3-yaml                      # reads Compose and stack files (compose config, rotated logs)
      python3-venv time                 # the venvs of opera (make test-tosca) and REDbot (make test-caching); /usr/bin/time
      prometheus                        # promtool checks /metrics; make test-autoscale runs it
      hey                               # the load generator of make test-autoscale
      qemu-user                         # runs the arm64, armv7 and armv6 binaries
      binutils                          # readelf: the arm binaries' architecture tags
      docker-registry                   # a real registry for the multi-arch test
      openssh-server openssh-client     # the stand-in Pi for `make pi-install`
      shellcheck                        # make lint checks every script
      golang-go nginx-light             # the peers of the HTTP conformance test
      chromium                          # the live page's test, in a real browser
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
  fuzz)
    # Nothing from apt: Rust nightly and cargo-fuzz (libFuzzer comes with it), from rustup and
    # crates.io.
    command -v rustup >/dev/null || fail "rustup is missing: install it first (https://rustup.rs)"
    rustup toolchain install nightly --profile minimal
    cargo install --locked cargo-fuzz
    say "ready for make fuzz"
    exit 0
    ;;
  *) fail "usage: $0 [test|bench|fuzz]" ;;
esac

sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || fail "run as root, or install: apt-get install ${packages[*]}"
  sudo=(sudo)
fi
# A new machine's unattended upgrades often hold apt's lock for a while: wait for it.
apt=(apt-get -o DPkg::Lock::Timeout=600)
"${sudo[@]}" "${apt[@]}" update -qq
# The one pin, and why: qemu-utils and qemu-system-common are built from the same QEMU source, and
# a newer qemu-utils Breaks an older qemu-system-common. Some Debian 12 images come with the
# backports qemu-utils (10.x) while bookworm's qemu-system-* is 7.2, and apt then refuses the
# whole install ("held broken packages"). So qemu-utils is asked for at the very version apt will
# install qemu-system-common in, whatever this machine started with (a downgrade if need be).
if [ "$what" = test ]; then
  qemu_version=$(apt-cache policy qemu-system-common | awk '$1 == "Candidate:" {print $2}')
  case "$qemu_version" in
    "" | "(none)") fail "apt knows no qemu-system-common: is this Debian or Ubuntu, with apt sources set?" ;;
  esac
  packages=("${packages[@]/#qemu-utils/qemu-utils=$qemu_version}")
fi
say "installing: ${packages[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends \
  --allow-downgrades "${packages[@]}" >/dev/null
if [ "$what" = test ]; then
  # Day 03's orchestrator, in a venv of its own with every package pinned (tosca/README.md).
  venv=$(dirname "$0")/../.venv-tosca
  [ -x "$venv/bin/opera" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$(dirname "$0")/../tosca/requirements.txt"
  command -v rustup >/dev/null || fail "rustup is missing: install it first (https://rustup.rs)"
  rustup component add rustfmt clippy
  # REDbot comes from PyPI, into a venv of its own: Debian's python3 refuses `pip install` outside
  # one (PEP 668). Made afresh each time, so that the pinned versions are what runs.
  say "installing ${REDBOT_PACKAGES[*]} into $REDBOT_VENV"
  "${sudo[@]}" rm -rf "$REDBOT_VENV"
  "${sudo[@]}" python3 -m venv "$REDBOT_VENV"
  "${sudo[@]}" "$REDBOT_VENV/bin/pip" install --quiet --disable-pip-version-check "${REDBOT_PACKAGES[@]}"
  rustup target add "${MAC_TARGETS[@]}"   # make lint checks the macOS builds
fi
say "ready for make $what"
