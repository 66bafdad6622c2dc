#!/usr/bin/env bash
# `make bench`: builds the binaries that ship (static musl, every platform for the size table)
# and the glibc build of the producer,
# then measures ours against Go's net/http, nginx and Flask on loopback (bench/bench.py, about
# 10 minutes). `make deps WHAT=bench` installs what it needs.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
for tool in wrk hey nginx go; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run 'make deps WHAT=bench'"
done
# Debian's Python, which has Flask and matplotlib from its packages.
/usr/bin/python3 -c 'import flask, matplotlib' 2>/dev/null ||
  fail "Flask or matplotlib is missing: run 'make deps WHAT=bench'"
scripts/cross.sh >/dev/null   # its errors still reach stderr
cargo build --release --locked --bin producer 2>/dev/null   # the glibc build, for comparison
exec /usr/bin/python3 bench/bench.py
