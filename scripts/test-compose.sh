#!/usr/bin/env bash
# End-to-end test of Scenario 01 on the real Docker engine: build the images, `compose up`, watch
# numbers flow, break the producer and watch the consumer recover, then stop fast and clean up.
# Everything it creates carries its own project name and tag, and is removed at the end.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
require_docker

export COMPOSE_PROJECT_NAME=fogdeft-test-compose
export REGISTRY=fogdeft-test TAG=compose
export PRODUCER_PORT
PRODUCER_PORT=$(free_port)

compose() { scripts/compose.sh "$@"; }
cleanup() {
  compose down --volumes --remove-orphans >/dev/null 2>&1 || true
  remove_images "$TAG"
}
trap cleanup EXIT

say "building images"
make --no-print-directory images >/dev/null
for program in producer consumer; do
  size=$(docker image inspect --format '{{.Size}}' "$REGISTRY/$program:$TAG")
  [ "$size" -le 1048576 ] || fail "$program image is $size bytes, more than 1 MiB"
  pass "$program image is $size bytes (at most 1 MiB)"
done

say "compose up (project $COMPOSE_PROJECT_NAME, producer on host port $PRODUCER_PORT)"
compose up -d >/dev/null 2>&1 || { compose up -d; fail "compose up"; }
producer=$(compose ps -q producer)
consumer=$(compose ps -q consumer)
health() { docker inspect --format '{{.State.Health.Status}}' "$producer"; }
wait_until 30 "producer healthy" prints healthy health
pass "producer is healthy"

received() { docker logs "$consumer" 2>&1 | grep -c '^Received number: ' || true; }
wait_until 15 "3 numbers in the consumer's log" at_least 3 received
pass "consumer logged $(received) numbers: $(docker logs "$consumer" 2>&1 | grep '^Received' | sed -n 1p)"

body=$(curl -fsS "http://127.0.0.1:$PRODUCER_PORT/number")
python3 -c 'import json,sys; n=json.loads(sys.argv[1])["number"]; assert isinstance(n,int) and 1<=n<=180' "$body" \
  || fail "curl from the host gave $body"
pass "curl from the host: $body"

# What a person sees at http://localhost:5000/: the text form for curl, the live page in a browser.
hostname=$(docker inspect --format '{{.Config.Hostname}}' "$producer")
whoami=$(curl -fsS "http://127.0.0.1:$PRODUCER_PORT/")
grep -qx "Hostname: $hostname" <<<"$whoami" || fail "curl http://127.0.0.1:$PRODUCER_PORT/ gave: $whoami"
pass "curl / from the host: $(paste -sd ' ' <<<"$whoami")"
page_check "http://127.0.0.1:$PRODUCER_PORT/" "$hostname" --timeout 60

say "stopping the producer"
compose stop producer >/dev/null 2>&1
errors() { docker logs "$consumer" 2>&1 | grep -c '^Error fetching the number: ' || true; }
wait_until 15 "consumer logs errors while the producer is down" at_least 1 errors
running=$(docker inspect --format '{{.State.Running}}' "$consumer")
[ "$running" = true ] || fail "the consumer exited when the producer stopped"
pass "consumer keeps running and logs: $(docker logs "$consumer" 2>&1 | grep '^Error fetching' | sed -n 1p)"

before=$(received)
compose start producer >/dev/null 2>&1
wait_until 30 "numbers again after the producer is back" at_least $((before + 1)) received
pass "consumer receives numbers again after the producer restarts"

say "log rotation"
rotation=$(compose config | rotated_logs 2>&1) || fail "docker-compose.yml: $rotation"
while read -r service size files; do
  container=$(compose ps -q "$service")
  logs=$(docker inspect --format '{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}}' "$container")
  [ "$logs" = "json-file $size $files" ] || fail "$service: the engine logs with '$logs', not 'json-file $size $files'"
  pass "$service rotates its log: json-file, max-size $size, max-file $files (in the file and on the engine)"
done <<<"$rotation"

say "non-root, read-only"
for container in "$producer" "$consumer"; do
  name=$(docker inspect --format '{{.Name}}' "$container")
  pid=$(docker inspect --format '{{.State.Pid}}' "$container")
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
  readonly=$(docker inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$container")
  { [ "$uid" = 65534 ] && [ "$readonly" = true ]; } || fail "$name runs as uid $uid, read-only=$readonly"
  pass "$name runs as uid $uid on a read-only root filesystem"
done

say "compose down"
start=$(date +%s%N)
compose stop >/dev/null 2>&1
for container in "$producer" "$consumer"; do
  code=$(docker inspect --format '{{.State.ExitCode}}' "$container")
  [ "$code" != 137 ] || fail "$(docker inspect --format '{{.Name}}' "$container") was killed (exit 137): SIGTERM ignored"
done
compose down >/dev/null 2>&1
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -lt 5000 ] || fail "compose stop + down took ${elapsed_ms} ms"
pass "compose stop + down took ${elapsed_ms} ms; no container was killed (exit 137)"
