#!/usr/bin/env bash
# The producer's memory budget, on the real engine and image: a container with Compose's memory
# limit and MAX_CONNECTIONS, and hostile clients of every kind (issue 18) holding all but a few
# of its connections. It must survive (no OOM kill) and keep answering /healthz; prints the
# memory each connection took, measured.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
require_docker

# The limits under test are the ones Compose ships.
memory=$(sed -n 's/^ *mem_limit: *\([0-9]*\)m$/\1/p' docker-compose.yml | sed -n 1p)
max_connections=$(sed -n 's/^ *MAX_CONNECTIONS: *"\([0-9]*\)"$/\1/p' docker-compose.yml)
if [ -z "$memory" ] || [ -z "$max_connections" ]; then
  fail "no mem_limit or MAX_CONNECTIONS in docker-compose.yml"
fi
hostile=$((max_connections - 16)) # room left for /healthz and the full-speed clients

export REGISTRY=fogdeft-test TAG=memory
name=fogdeft-test-memory
port=$(free_port)
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  remove_images "$TAG"
}
trap cleanup EXIT

say "building images"
make --no-print-directory images >/dev/null
docker run -d --name "$name" --memory "${memory}m" --memory-swap "${memory}m" \
  -e MAX_CONNECTIONS="$max_connections" -p "127.0.0.1:$port:5000" "$REGISTRY/producer:$TAG" >/dev/null
healthy() { [ "$(docker inspect --format '{{.State.Health.Status}}' "$name")" = healthy ]; }
wait_until 30 "producer healthy" healthy
id=$(docker inspect --format '{{.Id}}' "$name")
cgroup=/sys/fs/cgroup/memory/docker/$id
[ -r "$cgroup/memory.max_usage_in_bytes" ] || fail "no cgroup v1 memory figures at $cgroup"
at_rest=$(cat "$cgroup/memory.usage_in_bytes")
banner=$(docker logs "$name" 2>&1)
banner=${banner%%$'\n'*}
say "$banner"
budget=$(sed -n 's/.*connections, \([0-9]*\) KiB each at most.*/\1/p' <<<"$banner")
[ -n "$budget" ] || fail "the banner states no budget per connection: $banner"

say "$hostile hostile clients and 8 full-speed pipeliners, for 15 s, in ${memory} MB"
result=$(python3 scripts/hostile-clients.py "$port" "$hostile" 15)
say "healthz beside them: $result"

oom=$(docker inspect --format '{{.State.OOMKilled}} {{.State.Running}}' "$name")
[ "$oom" = "false true" ] || fail "the producer did not survive: OOMKilled, Running = $oom"
pass "the producer survived $hostile hostile connections in ${memory} MB (OOMKilled false)"
failures=$(python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["failures"] if r["checks"] >= 20 else -1)' "$result")
[ "$failures" = 0 ] || fail "/healthz failed beside them: $result"
pass "/healthz answered every time beside them"
wait_until 10 "/healthz after the clients left" healthy
peak=$(cat "$cgroup/memory.max_usage_in_bytes")
per=$(((peak - at_rest) / hostile))
[ "$per" -le $((budget * 1024)) ] || fail "$((per / 1024)) KiB per connection, over the stated $budget KiB"
pass "peak $((peak >> 20)) MiB of ${memory} MB: $((per / 1024)) KiB per hostile connection, within the stated $budget KiB (at rest $((at_rest >> 20)) MiB)"
