#!/usr/bin/env bash
# End-to-end test of Day 2's autoscaling on a real three-host swarm (the lab of swarm-lab-up.sh)
# with the real Prometheus, deployed with `make swarm-deploy AUTOSCALE=1`: a scale-up under load,
# a scale-down after it with no failed request, no change while Prometheus is down, and no
# service touched that did not opt in. The lab and the images are removed at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab.sh"
. "$(dirname "$0")/autoscale-lab.sh"
cd "$(dirname "$0")/.."
autoscale_lab_check

# The defaults are a 15 s interval and a 2 min window; short ones fit the story into minutes.
window=30
export AUTOSCALE_INTERVAL=5s STABILIZATION_WINDOW=${window}s AUTOSCALE_TARGET_RPS=50 AUTOSCALE_MAX=5
export AUTOSCALE_QUERY='sum(rate(producer_requests_total{job="{service}",path="/number"}[20s]))'
trap autoscale_lab_down EXIT

# `stack deploy` silently drops what Swarm does not support; `stack config` names it.
unsupported=$(docker stack config -c docker-stack.yml -c docker-stack.autoscale.yml 2>&1 >/dev/null) ||
  fail "docker stack config: $unsupported"
[ -z "$unsupported" ] || fail "docker-stack.autoscale.yml: $unsupported"
promtool check config prometheus.yml >/dev/null || fail "promtool check config prometheus.yml"
pass "docker-stack.autoscale.yml has no unsupported keys; prometheus.yml passes promtool"

autoscale_lab_up
pass "deployed on the lab with AUTOSCALE=1: $(docker stack services "$AS_STACK" --format '{{.Name}} {{.Replicas}}' | sed "s/^${AS_STACK}_//" | paste -sd ',' | sed 's/,/, /g')"

wait_until 90 "the autoscaler reads the producer's rate from Prometheus" at_least 1 readings
pass "the autoscaler reads the rate from Prometheus: '$(producer_decisions | grep ' req/s on ' | tail -n 1)'"
consumer_version() { docker service inspect --format '{{.Version.Index}}' "${AS_STACK}_consumer"; }
consumer_before=$(consumer_version)

# A poller asks 10 times a second all through, each time on a new connection after a new DNS
# lookup, so it meets every replica that comes and goes. hey adds 200/s for 40 s: 4 replicas' worth.
poller_start "$AS_STACK" "$TAG"
wait_until 30 "the poller receives numbers" at_least 5 poller_count "Received number: "
load hey 200 40
load_started=$SECONDS
wait_until 60 "a scale-up to 3 or more running replicas within 60 s of the load" at_least 3 running_replicas
pass "scale-up: $(running_replicas) replicas running $((SECONDS - load_started)) s after 200 req/s started (target 50 each): '$(producer_decisions | grep ' scale up ' | sed -n 1p)'"

read -r answered failed < <(load_result hey)
stopped=$SECONDS
if [ "$answered" -eq 0 ] || [ "$failed" -ne 0 ]; then
  fail "hey: $answered answered, $failed failed: $(docker logs hey 2>&1 | tail -n 8)"
fi
pass "hey: $answered requests answered, 0 failed, through the scale-up to $(spec_replicas) replicas"

wait_until 150 "a scale-down to 1 replica after the load stopped" prints 1 running_replicas
took=$((SECONDS - stopped))
[ "$took" -ge "$window" ] || fail "back to 1 replica $took s after the load stopped: sooner than the ${window}s window"
pass "scale-down: back to 1 replica $took s after the load stopped, not before the ${window}s window: $(producer_decisions | grep -c ' scale down ') steps, the last '$(producer_decisions | grep ' scale down ' | tail -n 1)'"

poller_stop
ok=$(poller_count "Received number: ") errors=$(poller_count "Error fetching the number: ")
[ "$errors" -eq 0 ] || fail "the poller failed $errors times: $(poller_log | grep '^Error' | sed -n 1,3p)"
pass "the poller: $ok requests answered, 0 failed, through the scale-up and the scale-down"

# Prometheus stops. Missing data must not read as "no load": replicas scaled up by hand must stay
# for longer than the window, while the autoscaler says why at every round.
docker service scale --detach=false "${AS_STACK}_prometheus=0" >/dev/null
blind() { producer_decisions | grep -c ': no change (3 replicas): cannot reach Prometheus' || true; }
docker service scale --detach=false "${AS_STACK}_producer=3" >/dev/null
wait_until 30 "the autoscaler says it cannot reach Prometheus" at_least 1 blind
wait_until 90 "8 rounds (40 s) without Prometheus" at_least 8 blind
if [ "$(spec_replicas)" != 3 ] || [ "$(running_replicas)" != 3 ]; then
  fail "without Prometheus the replicas changed to $(spec_replicas) ($(running_replicas) running)"
fi
pass "Prometheus stopped: 3 replicas stayed 3 for $(blind) rounds, longer than the ${window}s window; the autoscaler says '$(producer_decisions | grep ': no change' | tail -n 1 | sed "s/^${AS_STACK}_producer: //")'"

docker service scale --detach=false "${AS_STACK}_prometheus=1" >/dev/null
before=$(readings)
wait_until 90 "the autoscaler reads the rate again once Prometheus is back" at_least $((before + 1)) readings
pass "Prometheus back: the autoscaler reads the rate again at its next rounds: '$(producer_decisions | grep ' req/s on ' | tail -n 1)'"

# Only the producer has the labels. The consumer's spec must be the one deployed, and no line of
# the autoscaler may name another service.
others=$(autoscaler_log | grep "^${AS_STACK}_" | grep -v "^${AS_STACK}_producer: " || true)
[ -z "$others" ] || fail "the autoscaler acted on services without the labels: $others"
[ "$(consumer_version)" = "$consumer_before" ] || fail "the consumer's spec changed from version $consumer_before to $(consumer_version)"
pass "services without the labels are never touched: the consumer's spec is still version $consumer_before, and all $(producer_decisions | wc -l) decisions name the producer only"
say "test-autoscale took $SECONDS s"
