#!/usr/bin/env bash
# Builds static musl binaries of the programs into dist/<platform>/ and writes dist/SHA256SUMS.
# Usage: scripts/cross.sh [linux-amd64] [linux-arm64] [linux-arm-v7] [linux-arm-v6]   (default: all)
#
# Everything is pure Rust and links with rust-lld, which ships with Rust: no C cross-compiler.
# rustup's prebuilt standard library for the two 32-bit arm musl targets is missing from some
# Rust releases, so each of those targets builds with a pinned toolchain that has it:
#   armv7 (Pi 2, 3, 4 on 32-bit Raspberry Pi OS)  armv7-unknown-linux-musleabihf, Rust 1.93.0
#   armv6 (Pi Zero, Zero W, Pi 1)                 arm-unknown-linux-musleabihf, Rust 1.90.0
#     (no std for it in 1.91 to 1.94); its std is built for the Pi Zero's ARM1176: ARMv6 + VFPv2.
# The others use the default toolchain.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

build() {
  local platform=$1 target toolchain=""
  case "$platform" in
    linux-amd64) target=x86_64-unknown-linux-musl ;;
    linux-arm64) target=aarch64-unknown-linux-musl ;;
    linux-arm-v7) target=armv7-unknown-linux-musleabihf toolchain=$ARMV7_TOOLCHAIN ;;
    linux-arm-v6) target=arm-unknown-linux-musleabihf toolchain=$ARMV6_TOOLCHAIN ;;
    *) fail "unknown platform '$platform' (expected ${PLATFORMS[*]})" ;;
  esac
  rust_target "$target" "$toolchain"
  local rustup_plus=()
  [ -z "$toolchain" ] || rustup_plus=("+$toolchain")

  say "building $platform ($target${toolchain:+, Rust $toolchain})"
  env "$(cargo_target_var "$target" LINKER)=rust-lld" \
    cargo "${rustup_plus[@]}" build --release --locked --target "$target"
  mkdir -p "dist/$platform"
  for program in "${PROGRAMS[@]}"; do cp "target/$target/release/$program" "dist/$platform/"; done
}

[ $# -gt 0 ] || set -- "${PLATFORMS[@]}"
for platform in "$@"; do build "$platform"; done
(cd dist && for program in "${PROGRAMS[@]}"; do sha256sum linux-*/"$program"; done >SHA256SUMS)
for platform in "$@"; do
  for program in "${PROGRAMS[@]}"; do
    say "dist/$platform/$program: $((($(stat -c %s "dist/$platform/$program") + 512) / 1024)) KiB"
  done
done
