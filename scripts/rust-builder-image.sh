#!/usr/bin/env bash
# A stand-in for the official Rust image that the Dockerfiles build with: nothing can be pulled
# here. Made from Debian's packages and this machine's Rust toolchain, laid out as the official
# image is (Debian 12 slim with gcc and libc6-dev for build scripts; rustup, cargo and rustc in
# /usr/local/cargo/bin; RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo), with this
# machine's Linux targets already added (the musl ones among them). Containers here cannot reach
# crates.io (TLS through this machine's proxy fails in them), so CARGO_HOME also holds the crates
# of this machine's cargo cache, and CARGO_NET_OFFLINE=true makes cargo use them.
# Usage: scripts/rust-builder-image.sh          builds it if need be; prints its name
#        scripts/rust-builder-image.sh remove   removes it (make compose-build-clean)
#        scripts/rust-builder-image.sh remove-builds
#            removes the intermediate images that the legacy builder left of builds FROM it
#
# Kept between runs, in two images, each under a key of what it holds. The base (Debian and the
# toolchain, about 3 minutes to make) changes only with this script or the toolchain; the crates
# on top of it (seconds) with Cargo.lock.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
base=fogdeft/rust-builder:base image=fogdeft/rust-builder:local
key_label=org.fogdeft.stand-in-key

case "${1:-}" in
  remove) docker rmi "$image" "$base" 2>/dev/null || true; exit 0 ;;
  remove-builds)
    # Every image built on the stand-in carries its label; the untagged ones that nothing is built
    # on go first, and their untagged parents with them.
    docker images --quiet --filter dangling=true --filter "label=$key_label" | xargs -r docker rmi >/dev/null 2>&1 || true
    exit 0
    ;;
  "") ;;
  *) fail "usage: $0 [remove | remove-builds]" ;;
esac

# key IMAGE: the key that IMAGE was made under, if it exists.
key() { docker image inspect --format "{{index .Config.Labels \"$key_label\"}}" "$1" 2>/dev/null || true; }

sysroot=$(rustc --print sysroot)
toolchain=$(basename "$sysroot")
base_key=$( (cat "$0"; rustc -vV) | sha256sum | cut -c1-16)
work=$(mktemp -d /var/tmp/fogdeft-rust-builder.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ "$(key "$base")" != "$base_key" ]; then
  say "making $base from Debian 12 and $toolchain (once; about 3 minutes)" >&2
  root=$work/root
  debootstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev \
    bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap (log above)"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/{doc,man,info,locale}

  # The toolchain without its documentation, its sources and the standard libraries of other
  # systems than Linux (the macOS and Windows ones that CI lints with).
  mkdir -p "$root/usr/local/rustup/toolchains" "$root/usr/local/cargo/bin"
  tar -C "$(dirname "$sysroot")" -c --exclude="$toolchain/share/doc" --exclude="$toolchain/lib/rustlib/src" \
    --exclude="$toolchain/lib/rustlib/*-apple-*" --exclude="$toolchain/lib/rustlib/*-windows-*" "$toolchain" |
    tar -C "$root/usr/local/rustup/toolchains" -x
  printf 'version = "12"\ndefault_toolchain = "%s"\nprofile = "minimal"\n' "$toolchain" \
    >"$root/usr/local/rustup/settings.toml"
  cp "$(command -v rustup)" "$root/usr/local/cargo/bin/rustup"
  for proxy in cargo rustc rustdoc; do ln -s rustup "$root/usr/local/cargo/bin/$proxy"; done

  tar -C "$root" -c . | docker import \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL $key_label=$base_key" - "$base" >/dev/null
  rm -rf "$root"
fi

# The crates: every one that Cargo.lock names is fetched into this machine's cache first.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
cargo fetch --locked --quiet
image_key=$( (docker image inspect --format '{{.Id}}' "$base"; cat Cargo.lock) | sha256sum | cut -c1-16)
if [ "$(key "$image")" != "$image_key" ]; then
  say "adding the crates of Cargo.lock to $image" >&2
  mkdir -p "$work/crates"
  cp -r "$cargo_home/registry/index" "$cargo_home/registry/cache" "$work/crates/"
  printf 'FROM %s\nCOPY . /usr/local/cargo/registry/\nENV CARGO_NET_OFFLINE=true\nLABEL %s=%s\n' \
    "$base" "$key_label" "$image_key" |
    docker build --quiet --file - --tag "$image" "$work/crates" >/dev/null \
      2> >(grep -v -e DEPRECATED -e buildx -e '^ *$' >&2)
fi
echo "$image"
