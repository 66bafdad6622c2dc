# shellcheck shell=bash
# The autoscaling stack on the swarm lab, shared by test-autoscale.sh and autoscale-demo.sh:
# `. "$(dirname "$0")/autoscale-lab.sh"` after lib.sh and lab.sh, from the repository's root.
#
# Nothing can be pulled here, so the stand-ins for prom/prometheus and for a load generator are
# Debian's own prometheus and hey in FROM scratch images (scripts/scratch-image.sh). The lab gets
# those and the three programs' images, and the stack is deployed with `make swarm-deploy
# AUTOSCALE=1`, as a user would. autoscale_lab_down removes the lab and every image made here.

# Our own names on the shared Docker engine.
export REGISTRY=fogdeft-autoscale TAG=lab
export PROMETHEUS_IMAGE=$REGISTRY/prometheus:$TAG PRODUCER_REPLICAS=1
AS_STACK=fogdeft-autoscale
AS_HEY_IMAGE=$REGISTRY/hey:$TAG
AS_IMAGES=("$REGISTRY/producer:$TAG" "$REGISTRY/consumer:$TAG" "$REGISTRY/autoscaler:$TAG"
  "$PROMETHEUS_IMAGE" "$AS_HEY_IMAGE")
AS_LAB_STARTED=

# SKIPs (fails under REQUIRE_DOCKER=1) when something is missing or the lab is in use.
autoscale_lab_check() {
  require_lab "swarm lab" lab_missing swarm_lab_in_use
  require_tools "the autoscaling lab" prometheus hey
}

# Builds the images, starts the lab, deploys the stack; then DOCKER_HOST names the lab's manager.
autoscale_lab_up() {
  make --no-print-directory images >/dev/null 2>&1 || fail "make images"
  scripts/scratch-image.sh "$PROMETHEUS_IMAGE" "$(command -v prometheus)" 'USER 65534:65534' >/dev/null
  scripts/scratch-image.sh "$AS_HEY_IMAGE" "$(command -v hey)" >/dev/null
  vm/swarm-lab-up.sh "${AS_IMAGES[@]}" >/dev/null || fail "vm/swarm-lab-up.sh"
  AS_LAB_STARTED=1
  export DOCKER_HOST
  DOCKER_HOST=$(lab_host 1)
  use_swarm_net
  local log
  log=$(make --no-print-directory swarm-deploy STACK="$AS_STACK" AUTOSCALE=1 2>&1) ||
    fail "make swarm-deploy AUTOSCALE=1 against the lab: $(tail -n 5 <<<"$log")"
}

# Removes what autoscale_lab_up made, and only that: a lab someone else started stays.
autoscale_lab_down() {
  # AUTOSCALER_LOG=FILE keeps the autoscaler's log, with times, for a look after the run.
  [ -z "${AUTOSCALER_LOG:-}" ] || autoscaler_log_timed >"$AUTOSCALER_LOG" || true
  unset DOCKER_HOST
  if [ -n "$AS_LAB_STARTED" ]; then
    vm/swarm-lab-down.sh >/dev/null || echo "FAIL: vm/swarm-lab-down.sh" >&2
  fi
  docker rmi "${AS_IMAGES[@]}" >/dev/null 2>&1 || true
}

# The autoscaler's lines, oldest first.
autoscaler_log() { docker service logs --raw "${AS_STACK}_autoscaler" 2>/dev/null; }
# The same, each after its time (2026-12-01T22:50:01.123456789Z).
autoscaler_log_timed() { docker service logs --timestamps --raw "${AS_STACK}_autoscaler" 2>/dev/null; }
# Its decisions for the producer.
producer_decisions() { autoscaler_log | grep "^${AS_STACK}_producer: " || true; }
# How many of them read a rate.
readings() { producer_decisions | grep -c ' req/s on ' || true; }
# The producer's replicas: running now, and wanted by its spec.
running_replicas() { docker service ls --filter "name=${AS_STACK}_producer" --format '{{.Replicas}}' | cut -d/ -f1; }
spec_replicas() { docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "${AS_STACK}_producer"; }

# prometheus_value QUERY: the first value of an instant query to the stack's Prometheus, asked
# from inside its own container's network namespace (its port is not reachable from here with
# SWARM_NET=dnsrr); empty when there is none.
prometheus_value() {
  local id pid
  id=$(lab_docker 1 ps -q --filter "label=com.docker.swarm.service.name=${AS_STACK}_prometheus" | sed -n 1p)
  [ -n "$id" ] || return 0
  pid=$(lab_docker 1 inspect --format '{{.State.Pid}}' "$id")
  nsenter --net="/proc/$pid/ns/net" curl -fsS -m 5 -G http://127.0.0.1:9090/api/v1/query \
    --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'
}

# load NAME RPS SECONDS: hey on the stack's network (from the manager), RPS requests a second
# for SECONDS, each on a new connection after a new DNS lookup, so that the load reaches the
# replicas that the autoscaler adds. RPS is a multiple of 10 (10 workers).
load() {
  local name=$1 rps=$2 seconds=$3
  docker run -d --name "$name" --network "${AS_STACK}_numbers" "$AS_HEY_IMAGE" \
    -z "${seconds}s" -c 10 -q $((rps / 10)) -t 5 -disable-keepalive \
    http://producer:5000/number >/dev/null
}
# load_result NAME: waits for hey to finish and prints "ANSWERED FAILED" from its summary: 200s
# are answered; other statuses and errors (refused, reset, timed out) are failed.
load_result() {
  docker wait "$1" >/dev/null
  docker logs "$1" 2>&1 | awk '
    /^Status code distribution:/ { section = "status"; next }
    /^Error distribution:/ { section = "error"; next }
    /^[^ ]/ { section = "" }
    section == "status" && match($0, /\[[0-9]+\]/) {
      code = substr($0, RSTART + 1, RLENGTH - 2); n = $2
      if (code == 200) ok += n; else failed += n }
    section == "error" && match($0, /\[[0-9]+\]/) { failed += substr($0, RSTART + 1, RLENGTH - 2) }
    END { print ok + 0, failed + 0 }'
}
