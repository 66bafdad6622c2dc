#!/usr/bin/env bash
# Stops and removes what scripts/pi-install.sh put on a Pi (the env files too).
# Usage: scripts/pi-uninstall.sh user@host   (same PI_SSH_OPTS and PI_PREFIX as pi-install)
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: make pi-uninstall PI=user@host"
pi=$1 prefix=${PI_PREFIX:-/}
read -r -a ssh_opts <<<"${PI_SSH_OPTS:-}"
ssh "${ssh_opts[@]}" -o BatchMode=yes "$pi" sh -s -- "$prefix" <<'REMOTE'
set -eu
prefix=$1
[ "$(id -u)" = 0 ] && sudo="" || sudo=sudo
units="fogdeft-producer.service fogdeft-consumer.service"
if [ "$prefix" = / ] && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now $units || true
fi
for unit in $units; do $sudo rm -f "$prefix/etc/systemd/system/$unit"; done
$sudo rm -f "$prefix/usr/local/bin/fogdeft-producer" "$prefix/usr/local/bin/fogdeft-consumer"
$sudo rm -rf "$prefix/etc/fogdeft"
if [ "$prefix" = / ] && [ -d /run/systemd/system ]; then $sudo systemctl daemon-reload; fi
echo "removed"
REMOTE
say "removed fogdeft from $pi"
