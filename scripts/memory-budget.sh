# shellcheck shell=bash
# The producer's memory budget on a real engine, measured by the kernel: shared by test-memory.sh
# (this machine's engine, cgroup v1 or v2) and test-vm-lab.sh (a VM lab guest, which mounts only
# cgroup v2). `. scripts/memory-budget.sh` after lib.sh, from the repository's root.
#
# memory_budget IMAGE ADDRESS ON_ENGINE [SECONDS PATIENCE PIPELINERS]: runs the producer's IMAGE in the
# engine that `docker` reaches, with Compose's memory limit and MAX_CONNECTIONS, published on
# ADDRESS (an address of the engine's machine that this host reaches: 127.0.0.1, or a lab node's).
# Hostile clients of every kind (issue 18) hold all but a few of its connections for SECONDS (15).
# It must survive (no OOM kill) and keep answering /healthz within PATIENCE seconds (2; an
# emulated machine needs more, as the health check in docker-compose.yml explains) beside
# PIPELINERS (8) clients that pipeline at full speed, and each
# connection may take no more memory than the producer's /metrics states
# (producer_connection_budget_bytes; MAX_CONNECTIONS times that, and what it takes at rest, must
# fit in the limit). The clients are scripts/hostile.py's. `ON_ENGINE COMMAND [ARG...]` runs a
# command on the engine's machine, where the container's cgroup files are.
# memory_budget_cleanup removes the container.

memory_budget_container=fogdeft-test-memory
memory_budget_samples=""   # the file that the sampler below writes to, while the clients run
memory_budget_cleanup() {
  docker rm -f "$memory_budget_container" >/dev/null 2>&1 || true
  rm -f "$memory_budget_samples"
}

# The producer's limits as Compose runs them (`compose config` resolves anchors and variables):
# "MEMORY_BYTES MAX_CONNECTIONS". Compose v1 keeps mem_limit as written (64m), v2 prints bytes.
compose_producer_limits() {
  "$(dirname "${BASH_SOURCE[0]}")/compose.sh" config | python3 -c '
import re, sys, yaml
producer = yaml.safe_load(sys.stdin)["services"]["producer"]
environment = producer.get("environment") or {}
if isinstance(environment, list):
    environment = dict(item.split("=", 1) for item in environment)
limit = re.fullmatch(r"(\d+)([kmg]?)b?", str(producer.get("mem_limit", "")).lower())
connections = str(environment.get("MAX_CONNECTIONS", ""))
if not limit or not connections.isdigit():
    sys.exit("the producer in docker-compose.yml has no mem_limit or MAX_CONNECTIONS")
print(int(limit[1]) * 1024 ** " kmg".index(limit[2] or " "), connections)
'
}

# memory_cgroup CONTAINER ON_ENGINE: "VERSION FOLDER", the container's memory figures on the
# engine's machine, found where the engine put them rather than guessed: the cgroup version from
# `docker info`, the cgroup from the container's /proc/PID/cgroup. On v2 one tree holds every
# controller (the "0::" line; the systemd driver puts the container in
# /system.slice/docker-ID.scope, cgroupfs in /docker/ID); on v1 the memory controller has a tree
# of its own.
memory_cgroup() {
  local container=$1 on_engine=$2 version id pid lines path
  version=$(docker info --format '{{.CgroupVersion}}')
  id=$(docker inspect --format '{{.Id}}' "$container")
  pid=$(docker inspect --format '{{.State.Pid}}' "$container")
  lines=$("$on_engine" cat "/proc/$pid/cgroup") || fail "cannot read /proc/$pid/cgroup on the engine's machine"
  case "$version" in
    2) path=/sys/fs/cgroup$(sed -n 's/^0:://p' <<<"$lines") ;;
    1) path=/sys/fs/cgroup/memory$(sed -n 's/^[0-9]*:\([^:]*,\)*memory\(,[^:]*\)*://p' <<<"$lines") ;;
    *) fail "docker info names cgroup version '$version'" ;;
  esac
  # The pid of another machine's engine may be some process here: its cgroup then names no container.
  [[ $path == *"$id"* ]] || fail "/proc/$pid/cgroup on the engine's machine is not container $id's: $lines"
  echo "$version $path"
}

# Condition for wait_until: Docker's health check passes in CONTAINER.
healthy() { [ "$(docker inspect --format '{{.State.Health.Status}}' "$1")" = healthy ]; }

# The file of each figure: what the cgroup uses now, its peak, and its event counts (oom_kill).
# cgroup v2 has memory.peak only from Linux 5.19 on.
memory_file() {
  case "$1 $2" in
    "1 current") echo memory.usage_in_bytes ;;
    "1 peak") echo memory.max_usage_in_bytes ;;
    "1 events") echo memory.oom_control ;;
    "2 current") echo memory.current ;;
    "2 peak") echo memory.peak ;;
    "2 events") echo memory.events ;;
  esac
}

# sample_peak ON_ENGINE FILE SECONDS: "MAX SOCK", the highest value of FILE, read every 0.2 s for
# SECONDS on the engine's machine (or until the cgroup is gone: its container ended), and the
# kernel's socket buffers charged to the cgroup then (memory.stat's sock, cgroup v2 only). Where
# no peak file exists, this is what the peak can be told from.
sample_peak() {
  # shellcheck disable=SC2016 # the script runs there, with its own $1 and $2
  "$1" sh -c 'max=0 sock=- n=0
    while [ "$n" -lt "$(($2 * 5))" ]; do
      now=$(cat "$1" 2>/dev/null) || break
      if [ "$now" -gt "$max" ]; then
        max=$now sock=$(sed -n "s/^sock //p" "${1%/*}/memory.stat")
      fi
      sleep 0.2; n=$((n + 1))
    done
    echo "$max ${sock:--}"' sample "$2" "$3"
}

memory_budget() {
  local image=$1 address=$2 on_engine=$3 seconds=${4:-15} patience=${5:-2} pipeliners=${6:-8} name=$memory_budget_container
  local limits memory max_connections hostile port cgroup version dir at_rest figures served budget
  local sampler sampled sock result oom kills failures peak how per
  limits=$(compose_producer_limits) || fail "reading the producer's limits from docker-compose.yml"
  read -r memory max_connections <<<"$limits"
  hostile=$((max_connections - 16)) # room left for /healthz and the full-speed clients

  port=$(free_port)
  memory_budget_cleanup
  docker image inspect "$image" >/dev/null 2>&1 || docker pull -q "$image" >/dev/null
  docker run -d --name "$name" --memory "$memory" --memory-swap "$memory" \
    -e MAX_CONNECTIONS="$max_connections" -p "$address:$port:5000" "$image" >/dev/null
  wait_until 60 "producer healthy" healthy "$name"
  cgroup=$(memory_cgroup "$name" "$on_engine")
  version=${cgroup%% *} dir=${cgroup#* }
  say "cgroup v$version ($(docker info --format '{{.CgroupDriver}}') driver, Linux $(docker info --format '{{.KernelVersion}}')): $dir"
  at_rest=$("$on_engine" cat "$dir/$(memory_file "$version" current)")
  # What the producer says of itself, in /metrics: the connections it serves at most (all of
  # MAX_CONNECTIONS, unless its open-files limit is lower) and the most memory each can take.
  figures=$(curl -fsS -m 10 "http://$address:$port/metrics") || fail "GET /metrics from the producer"
  served=$(awk '$1 == "producer_connections_max" {print $2}' <<<"$figures")
  budget=$(awk '$1 == "producer_connection_budget_bytes" {print $2}' <<<"$figures")
  [ -n "$budget" ] || fail "/metrics states no producer_connection_budget_bytes"
  [ "$served" = "$max_connections" ] ||
    fail "the producer serves ${served:-no number of} connections at most (its /metrics), not docker-compose.yml's MAX_CONNECTIONS=$max_connections"
  say "the producer's /metrics: $served connections at most, $(((budget + 1023) / 1024)) KiB each at most"
  # Compose's figures must agree with the producer's: every connection at its worst, and the rest.
  [ $((max_connections * budget + at_rest)) -le "$memory" ] ||
    fail "MAX_CONNECTIONS x $(((budget + 1023) / 1024)) KiB and the $((at_rest >> 20)) MiB at rest do not fit in $((memory >> 20)) MiB: lower MAX_CONNECTIONS in docker-compose.yml"

  say "$hostile hostile clients and $pipeliners full-speed pipeliners, for $seconds s, in $((memory >> 20)) MiB"
  memory_budget_samples=$(mktemp /tmp/fogdeft-memory.XXXXXX)
  sample_peak "$on_engine" "$dir/$(memory_file "$version" current)" "$seconds" >"$memory_budget_samples" &
  sampler=$!
  # The hostile connections in three kinds that hold what they can, and those at full speed.
  result=$(python3 scripts/hostile.py "$address" "$port" "$seconds" never-reads=$(((hostile + 2) / 3)) \
    unfinished-head=$(((hostile + 1) / 3)) stalled-body=$((hostile / 3)) full-speed="$pipeliners" --healthz "$patience") ||
    fail "scripts/hostile.py: $result"
  result=${result##*$'\n'}   # its last line: the /healthz checks
  wait "$sampler" || fail "sampling $dir/$(memory_file "$version" current) failed"
  read -r sampled sock <"$memory_budget_samples"
  say "healthz beside them: $result"
  say "highest sample of $(memory_file "$version" current): $((sampled >> 20)) MiB$([ "$sock" = - ] || echo ", of which socket buffers $((sock >> 20)) MiB")"

  oom=$(docker inspect --format '{{.State.OOMKilled}} {{.State.Running}}' "$name")
  [ "$oom" = "false true" ] ||
    fail "the producer did not survive: OOMKilled, Running = $oom ($(docker inspect --format 'exit code {{.State.ExitCode}}, {{.State.Error}}' "$name"))"
  kills=$("$on_engine" cat "$dir/$(memory_file "$version" events)" | sed -n 's/^oom_kill //p')
  [ "${kills:-0}" = 0 ] || fail "the kernel's OOM killer killed $kills processes in the producer's container"
  pass "the producer survived $hostile hostile connections in $((memory >> 20)) MiB (OOMKilled false, oom_kill ${kills:-not counted by this kernel})"
  # At least one check for each PATIENCE seconds of load, or /healthz was not really asked.
  failures=$(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["failures"] if r["checks"] >= float(sys.argv[2]) else -1)' "$result" "$((seconds / patience))")
  [ "$failures" = 0 ] || fail "/healthz failed beside them: $result"
  pass "/healthz answered every time beside them"
  wait_until 10 "/healthz after the clients left" healthy "$name"

  # The kernel's peak where it keeps one; else the highest sample, which may miss the very top.
  # shellcheck disable=SC2016 # the script runs there, with its own $1
  peak=$("$on_engine" sh -c '[ ! -e "$1" ] || cat "$1"' peak "$dir/$(memory_file "$version" peak)")
  if [ -n "$peak" ]; then
    how="$(memory_file "$version" peak), cgroup v$version"
    [ "$sampled" -le "$peak" ] || fail "$(memory_file "$version" current) was sampled at $sampled bytes, above the peak of $peak"
  else
    peak=$sampled
    how="memory.current sampled every 0.2 s, cgroup v$version: no memory.peak before Linux 5.19, so the true peak may be higher"
  fi
  per=$(((peak - at_rest) / hostile))
  [ "$per" -le "$budget" ] || fail "$((per / 1024)) KiB per connection, over the stated $(((budget + 1023) / 1024)) KiB (peak $((peak >> 20)) MiB, $how)"
  pass "peak $((peak >> 20)) MiB of $((memory >> 20)) MiB ($how): $((per / 1024)) KiB per hostile connection, within the stated $(((budget + 1023) / 1024)) KiB (at rest $((at_rest >> 20)) MiB)"
  memory_budget_cleanup
}
