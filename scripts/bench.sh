#!/usr/bin/env bash
# `make bench`: builds the binaries that ship (static musl, every platform for the size table),
# then measures ours against Flask and nginx on loopback (bench/bench.py, about 2 minutes).
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
for tool in wrk hey nginx; do
  command -v "$tool" >/dev/null || fail "$tool is missing: apt-get install wrk hey nginx-light python3-flask"
done
/usr/bin/python3 -c 'import flask' 2>/dev/null || fail "Flask is missing: apt-get install python3-flask"
scripts/cross.sh >/dev/null   # its errors still reach stderr
exec python3 bench/bench.py
