#!/usr/bin/env bash
# Installs both programs on a Raspberry Pi as systemd services, without Docker.
# Usage: scripts/pi-install.sh user@host
#   PI_SSH_OPTS  extra ssh options, e.g. "-p 2222 -i ~/.ssh/pi"
#   PI_PREFIX    install below this folder instead of / (then systemctl is left alone)
# It asks the Pi for its architecture, cross-compiles for it here, copies the binary, the units
# and the env files (an existing env file is kept), then enables and starts the services.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || fail "usage: make pi-install PI=user@host"
pi=$1 prefix=${PI_PREFIX:-/}
read -r -a ssh_opts <<<"${PI_SSH_OPTS:-}"
remote() { ssh "${ssh_opts[@]}" -o BatchMode=yes "$pi" "$@"; }

machine=$(remote uname -m) || fail "cannot reach $pi over ssh (set PI_SSH_OPTS for the port or key)"
platform=$(platform_of_machine "$machine")   # aarch64: 64-bit Pi OS; armv7l, armv6l (Pi Zero, Pi 1): 32-bit
say "$pi is $machine: installing the $platform binaries below $prefix"
scripts/cross.sh "$platform" >/dev/null

# Stage everything in one tar stream, then let the Pi put each file in place.
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp "dist/$platform/producer" "$staging/fogdeft-producer"
cp "dist/$platform/consumer" "$staging/fogdeft-consumer"
cp pi/*.service pi/*.env "$staging/"
tmp=$(remote mktemp -d)
tar -C "$staging" -cf - . | remote tar -C "$tmp" -xf -
remote sh -s -- "$prefix" "$tmp" <<'REMOTE'
set -eu
prefix=$1 tmp=$2
[ "$(id -u)" = 0 ] && sudo="" || sudo=sudo
$sudo install -D -m 0755 "$tmp/fogdeft-producer" "$prefix/usr/local/bin/fogdeft-producer"
$sudo install -D -m 0755 "$tmp/fogdeft-consumer" "$prefix/usr/local/bin/fogdeft-consumer"
for unit in fogdeft-producer.service fogdeft-consumer.service; do
  $sudo install -D -m 0644 "$tmp/$unit" "$prefix/etc/systemd/system/$unit"
done
for env in producer.env consumer.env; do   # keep the settings of an earlier install
  [ -e "$prefix/etc/fogdeft/$env" ] || $sudo install -D -m 0644 "$tmp/$env" "$prefix/etc/fogdeft/$env"
done
rm -rf "$tmp"
if [ "$prefix" != / ]; then
  echo "installed below $prefix; systemctl left alone"
elif [ -d /run/systemd/system ]; then
  $sudo systemctl daemon-reload
  $sudo systemctl enable --now fogdeft-producer.service fogdeft-consumer.service
  echo "started: curl http://localhost:5000/number ; journalctl -fu fogdeft-consumer"
else
  echo "installed, but systemd is not running here: start /usr/local/bin/fogdeft-producer by hand"
fi
REMOTE
say "done: settings in $prefix/etc/fogdeft/*.env on $pi"
