#!/usr/bin/env bash
# Tests `make pi-install` and `make pi-uninstall` against a stand-in Pi: Debian's sshd, started here
# on a loopback port with throwaway keys, installing below a temporary PI_PREFIX. The stand-in
# claims to be a 32-bit Pi (`uname -m` says armv7l), so the armv7 binary is the one that must
# arrive, and it is run under qemu-arm. This machine has no running systemd, so the test checks
# everything up to the systemctl calls, and the units with `systemd-analyze verify`. A stand-in
# whose `uname -m` is not in scripts/lib.sh's table (riscv64) must get nothing: one line, exit 2.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
machine=armv7l
platform=$(platform_of_machine "$machine")
description=$(platform_info "$platform" file)
emulator=$(platform_info "$platform" qemu)
read -r -a emulator <<<"$emulator"   # its words
[ -x /usr/sbin/sshd ] || skip_or_fail "openssh-server is not installed (make deps installs it)"
require_tools "make test-pi-install" "${emulator[0]}" ssh ssh-keygen file

work=$(mktemp -d /tmp/fogdeft-test-pi.XXXXXX)
port=$(free_port)
prefix="$work/pi-root"
mkdir -p "$prefix" "$work/bin"
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
# The stand-in's `uname -m` says what $work/machine holds: first a 32-bit Raspberry Pi.
echo "$machine" >"$work/machine"
# shellcheck disable=SC2016 # $1 and $@ are for the stand-in's shell
printf '#!/bin/sh\n[ "$1" = -m ] && exec cat %s/machine || exec /bin/uname "$@"\n' "$work" >"$work/bin/uname"
chmod +x "$work/bin/uname"
printf 'environment="PATH=%s/bin:/usr/bin:/bin" %s\n' "$work" "$(cat "$work/client_key.pub")" >"$work/authorized_keys"
cat >"$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
PermitRootLogin prohibit-password
PermitUserEnvironment yes
StrictModes no
UsePAM no
CONF
made_run_sshd=
[ -d /run/sshd ] || { mkdir /run/sshd && made_run_sshd=1; }   # sshd's privilege-separation folder
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!
serve_pid=
cleanup() {
  kill $sshd_pid $serve_pid 2>/dev/null || true
  rm -rf "$work"
  [ -z "$made_run_sshd" ] || rmdir /run/sshd
}
trap cleanup EXIT

export PI_PREFIX="$prefix"
export PI_SSH_OPTS="-p $port -i $work/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
pi="$(id -un)@127.0.0.1"
# shellcheck disable=SC2086 # PI_SSH_OPTS is a list of options, as pi-install.sh takes it
ssh_to_pi() { ssh $PI_SSH_OPTS -o BatchMode=yes "$pi" "$@"; }
wait_until 10 "the stand-in's sshd answers" ssh_to_pi true
pass "stand-in Pi: sshd on 127.0.0.1:$port, PI_PREFIX=$prefix"

make --no-print-directory pi-install PI="$pi" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "make pi-install"; }
grep -q "$machine: installing the $platform binaries" "$work/install.log" || fail "architecture not detected: $(cat "$work/install.log")"
pass "pi-install detected $machine and chose $platform"
grep -q "systemctl left alone" "$work/install.log" || fail "systemctl was not skipped under PI_PREFIX"
pass "no running systemd under the prefix: install stopped before systemctl, as reported"

# Every file must land where the units say.
for program in producer consumer; do
  unit="$prefix/etc/systemd/system/fogdeft-$program.service"
  [ -f "$unit" ] || fail "$unit missing"
  exec_path=$(sed -n 's/^ExecStart=//p' "$unit")
  env_path=$(sed -n 's/^EnvironmentFile=-//p' "$unit")
  [ -x "$prefix$exec_path" ] || fail "ExecStart $exec_path is not installed"
  [ -f "$prefix$env_path" ] || fail "EnvironmentFile $env_path is not installed"
  grep -q "$description" <<<"$(file -b "$prefix$exec_path")" || fail "$exec_path is not the $platform binary"
  pass "fogdeft-$program: unit, $exec_path ($platform) and $env_path are in place"
  if command -v systemd-analyze >/dev/null; then
    # verify checks that ExecStart exists, so point a copy at the installed binary.
    sed "s|^ExecStart=.*|ExecStart=$prefix$exec_path|" "$unit" >"$work/fogdeft-$program.service"
    systemd-analyze verify "$work/fogdeft-$program.service" || fail "systemd-analyze verify fogdeft-$program"
    pass "systemd-analyze verify fogdeft-$program.service"
  else
    say "NOTE: systemd-analyze not available: units not verified"
  fi
done

# The binary that arrived must run, with the installed settings.
set -a
# shellcheck source=/dev/null # written by pi-install.sh during the test
. "$prefix/etc/fogdeft/producer.env"
set +a
PORT=$(free_port)
"${emulator[@]}" "$prefix/usr/local/bin/fogdeft-producer" >/dev/null &
serve_pid=$!
wait_until 20 "installed producer answers" curl -fsS "http://127.0.0.1:$PORT/healthz"
line=$("${emulator[@]}" "$prefix/usr/local/bin/fogdeft-consumer" --once --url "http://127.0.0.1:$PORT/number")
pass "the installed $platform binaries run (under ${emulator[*]}): $line"

# A second install keeps edited settings.
echo "NUMBER_MAX=7" >>"$prefix/etc/fogdeft/producer.env"
make --no-print-directory pi-install PI="$pi" >/dev/null 2>&1 || fail "second pi-install"
grep -q NUMBER_MAX=7 "$prefix/etc/fogdeft/producer.env" || fail "reinstall overwrote producer.env"
pass "a reinstall keeps the settings in /etc/fogdeft"

make --no-print-directory pi-uninstall PI="$pi" >/dev/null 2>&1 || fail "make pi-uninstall"
left=$(find "$prefix" -type f)
[ -z "$left" ] || fail "pi-uninstall left: $left"
pass "pi-uninstall removed every file"

# A machine that the table lacks gets no binary at all (no guess): one line on stderr, exit 2.
echo riscv64 >"$work/machine"
status=0
scripts/pi-install.sh "$pi" >"$work/riscv.out" 2>"$work/riscv.err" || status=$?
if [ "$status" != 2 ] || [ -s "$work/riscv.out" ] || [ "$(wc -l <"$work/riscv.err")" != 1 ]; then
  fail "pi-install on a riscv64 stand-in: exit $status, stdout '$(cat "$work/riscv.out")', stderr '$(cat "$work/riscv.err")'"
fi
[ -z "$(find "$prefix" -type f)" ] || fail "pi-install on a riscv64 stand-in installed: $(find "$prefix" -type f)"
pass "pi-install on a riscv64 stand-in installs nothing: $(cat "$work/riscv.err")"
