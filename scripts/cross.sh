#!/usr/bin/env bash
# Builds static musl binaries of both programs into dist/<platform>/.
# Usage: scripts/cross.sh [linux-amd64] [linux-arm64] [linux-arm-v7]   (default: all three)
# Everything is pure Rust and links with rust-lld, so no C cross-compiler is ever needed.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

rust_target() {
  case "$1" in
    linux-amd64) echo x86_64-unknown-linux-musl ;;
    linux-arm64) echo aarch64-unknown-linux-musl ;;
    linux-arm-v7) echo armv7-unknown-linux-musleabihf ;;
    *) fail "unknown platform '$1' (expected linux-amd64, linux-arm64 or linux-arm-v7)" ;;
  esac
}

build() {
  local platform=$1 target
  target=$(rust_target "$platform")
  # A fresh machine has only the host target: add the musl one once.
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  say "building $platform ($target)"
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
    cargo build --release --locked --target "$target"
  mkdir -p "dist/$platform"
  cp "target/$target/release/producer" "target/$target/release/consumer" "dist/$platform/"
}

[ $# -gt 0 ] || set -- linux-amd64 linux-arm64 linux-arm-v7
for platform in "$@"; do build "$platform"; done
