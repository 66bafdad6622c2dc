#!/usr/bin/env bash
# `make test-caching`: REDbot, the HTTP linter, on every answer the producer and the autoscaler
# give (each route of `producer --help`, the live page, a 404, a 405; the autoscaler's /metrics,
# /healthz and a 404). It fails on any note about caching at level WARN or BAD, printing all of
# REDbot's notes on that answer: a cache must never keep a number, a count or a health state.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

python=$REDBOT_VENV/bin/python
"$python" -c 'import redbot' 2>/dev/null ||
  skip_or_fail "no REDbot in $REDBOT_VENV (make deps installs it)"
for program in producer autoscaler; do
  [ -x "target/release/$program" ] || fail "no target/release/$program: run make build"
done

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
producer_port=$(free_port)
target/release/producer --host 127.0.0.1 --port "$producer_port" >/dev/null &
pids+=($!)
# The autoscaler serves /metrics and /healthz whatever its peers do: here it has none.
autoscaler_port=$(free_port)
target/release/autoscaler --host 127.0.0.1 --port "$autoscaler_port" \
  --prometheus "http://127.0.0.1:$(free_port)" --docker-host "tcp://127.0.0.1:$(free_port)" >/dev/null &
pids+=($!)
healthy() { target/release/"$1" healthcheck --port "$2"; }
wait_until 10 "the producer answers" healthy producer "$producer_port"
wait_until 10 "the autoscaler answers" healthy autoscaler "$autoscaler_port"

producer=http://127.0.0.1:$producer_port
autoscaler=http://127.0.0.1:$autoscaler_port
help=$(target/release/producer --help)
routes=$(awk '/^Endpoints/ {on = 1; next} on && $1 == "GET" {print $2}' <<<"$help")
[ -n "$routes" ] || fail "no routes in producer --help: $help"
checks=()
for route in $routes; do checks+=("GET $producer$route"); done
checks+=(
  "GET $producer/ text/html,application/xhtml+xml,*/*;q=0.8"   # the live page, as a browser asks
  "GET $producer/no-such-page"
  "POST $producer/number"
  "GET $autoscaler/metrics" "GET $autoscaler/healthz" "GET $autoscaler/no-such-page"
)
# One process each: REDbot's client, reused in one process, stalls on its third check (60 s, then
# a read timeout), against any server.
failed=0
for check in "${checks[@]}"; do
  "$python" scripts/redbot-check.py "$check" || failed=$((failed + 1))
done
[ "$failed" = 0 ] || fail "REDbot warns about caching on $failed of ${#checks[@]} answers (above)"
pass "REDbot: no caching warning on any of ${#checks[@]} answers"
