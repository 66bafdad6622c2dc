#!/usr/bin/env bash
# What the build stage of Dockerfile-producer, -consumer and autoscaler/Dockerfile-autoscaler runs: the static binaries
# for the platform Docker asks for, built by scripts/cross.sh from the one table of platforms in
# scripts/lib.sh (so the build stage copies in these three files). In two steps, so that Docker
# keeps the first as a layer:
#   scripts/build-stage.sh dependencies   only Cargo.toml, Cargo.lock and vendor/ are there yet
#   scripts/build-stage.sh programs       then our sources too; the binaries go to /out/
# BuildKit names the platform in TARGETARCH and TARGETVARIANT. The legacy builder leaves them
# empty, and runs this on the machine it builds for: then it is this machine's platform. A platform
# that the table lacks (linux/riscv64) stops the build with one line.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

if [ -n "${TARGETARCH:-}" ]; then
  platform=linux-$TARGETARCH${TARGETVARIANT:+-$TARGETVARIANT}
  platform_info "$platform" target >/dev/null   # one that the table lacks stops here, before any change
else
  platform=$(host_platform)
fi
# The source file of each target, as the [lib] and [[bin]] sections of Cargo.toml name them.
mapfile -t mains < <(sed -n 's/^path = "\(.*\)"$/\1/p' Cargo.toml)

case "${1:-}" in
  dependencies)
    # Empty programs and library stand in for ours: cargo still builds every crate that they
    # depend on. (`pub`, so that the library's stand-in is not dead code.)
    for main in "${mains[@]}"; do echo 'pub fn main() {}' >"$main"; done
    scripts/cross.sh "$platform"
    ;;
  programs)
    # COPY kept our files' own times, older than the stand-ins' build: cargo would take that
    # build as up to date. Newer times make it compile our programs (and only them).
    touch "${mains[@]}"
    scripts/cross.sh "$platform"
    mkdir -p /out
    cp "dist/$platform"/* /out/
    ;;
  *) fail "usage: $0 dependencies|programs" ;;
esac
