#!/usr/bin/env bash
# Builds static musl binaries of the programs into dist/<platform>/ and writes dist/SHA256SUMS.
# Usage: scripts/cross.sh [linux-amd64] [linux-arm64] [linux-arm-v7]   (default: all three)
#
# Everything is pure Rust and links with rust-lld, which ships with Rust: no C cross-compiler.
# armv7: rustup ships a prebuilt std for armv7-unknown-linux-musleabihf only up to Rust 1.93.0,
# so that one target builds with a pinned 1.93.0 toolchain; the others use the default one.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

ARMV7_TOOLCHAIN=1.93.0

build() {
  local platform=$1 target toolchain=""
  case "$platform" in
    linux-amd64) target=x86_64-unknown-linux-musl ;;
    linux-arm64) target=aarch64-unknown-linux-musl ;;
    linux-arm-v7) target=armv7-unknown-linux-musleabihf toolchain=$ARMV7_TOOLCHAIN ;;
    *) fail "unknown platform '$platform' (expected linux-amd64, linux-arm64 or linux-arm-v7)" ;;
  esac
  # A fresh machine has only the host target: add what is missing, once.
  if [ -n "$toolchain" ]; then
    grep -q "^$toolchain-" <<<"$(rustup toolchain list)" ||
      rustup toolchain install "$toolchain" --profile minimal --no-self-update
  fi
  grep -qx "$target" <<<"$(rustup ${toolchain:++$toolchain} target list --installed)" ||
    rustup ${toolchain:++$toolchain} target add "$target"

  say "building $platform ($target${toolchain:+, Rust $toolchain})"
  local linker_var
  linker_var="CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER"
  env "$linker_var=rust-lld" cargo ${toolchain:++$toolchain} build --release --locked --target "$target"
  mkdir -p "dist/$platform"
  for program in "${PROGRAMS[@]}"; do cp "target/$target/release/$program" "dist/$platform/"; done
}

[ $# -gt 0 ] || set -- linux-amd64 linux-arm64 linux-arm-v7
for platform in "$@"; do build "$platform"; done
(cd dist && for program in "${PROGRAMS[@]}"; do sha256sum linux-*/"$program"; done >SHA256SUMS)
