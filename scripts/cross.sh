#!/usr/bin/env bash
# Builds static musl binaries of the programs into dist/<platform>/ and writes dist/SHA256SUMS.
# Usage: scripts/cross.sh [PLATFORM...]   (linux-arm-v7 and the like; default: every platform)
#
# Everything is pure Rust and links with rust-lld, which ships with Rust: no C cross-compiler.
# Each platform's Rust target and toolchain come from the table in scripts/lib.sh. rustup's
# prebuilt standard library for the two 32-bit arm musl targets is missing from some Rust releases
# (armv7-unknown-linux-musleabihf from 1.94.0, arm-unknown-linux-musleabihf from 1.91 to 1.94), so
# the table pins for each a release that has it; the others use the default toolchain. The armv6
# target's std is built for the Pi Zero's ARM1176: ARMv6 + VFPv2.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

build() {
  local platform=$1 target toolchain
  target=$(platform_info "$platform" target)
  toolchain=$(platform_info "$platform" rust)
  rust_target "$target" "$toolchain"
  local rustup_plus=()
  [ -z "$toolchain" ] || rustup_plus=("+$toolchain")

  say "building $platform ($target${toolchain:+, Rust $toolchain})"
  env "$(cargo_target_var "$target" LINKER)=rust-lld" \
    cargo "${rustup_plus[@]}" build --release --locked --target "$target"
  mkdir -p "dist/$platform"
  for program in "${PROGRAMS[@]}"; do cp "${CARGO_TARGET_DIR:-target}/$target/release/$program" "dist/$platform/"; done
}

[ $# -gt 0 ] || set -- "${PLATFORMS[@]}"
for platform in "$@"; do build "$platform"; done
(cd dist && for program in "${PROGRAMS[@]}"; do sha256sum linux-*/"$program"; done >SHA256SUMS)
for platform in "$@"; do
  for program in "${PROGRAMS[@]}"; do
    say "dist/$platform/$program: $((($(stat -c %s "dist/$platform/$program") + 512) / 1024)) KiB"
  done
done
