#!/usr/bin/env bash
# End-to-end test of Day 2's autoscaling on a real three-host swarm (the lab of swarm-lab-up.sh)
# with the real Prometheus, deployed with `make swarm-deploy AUTOSCALE=1`: a scale-up under load
# in the steps the scale-up policy allows, a Prometheus restart under load that causes no
# scale-down, a scale-down after the load with no failed request, the autoscaler's own metrics
# in Prometheus, and no service touched that did not opt in. The lab and the images are removed
# at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vm/lab.sh"
. "$(dirname "$0")/autoscale-lab.sh"
cd "$(dirname "$0")/.."
autoscale_lab_check

# The defaults are a 15 s interval, a 5 min window and rate(...[1m]); short ones fit the story
# into minutes. The scale-up policy allows one more replica every 10 s, so that a jump in load
# is met in steps that the test can see.
window=30 period=10
export AUTOSCALE_INTERVAL=5s STABILIZATION_WINDOW=${window}s AUTOSCALE_RATE_WINDOW=20s
export AUTOSCALE_TARGET_RPS=50 AUTOSCALE_MAX=5 AUTOSCALE_SCALE_UP="1 pod per ${period}s"
trap autoscale_lab_down EXIT

# `stack deploy` silently drops what Swarm does not support; `stack config` names it.
stacks=(-c docker-stack.yml -c autoscaler/docker-stack.autoscale.yml)
unsupported=$(docker stack config "${stacks[@]}" 2>&1 >/dev/null) || fail "docker stack config: $unsupported"
[ -z "$unsupported" ] || fail "autoscaler/docker-stack.autoscale.yml: $unsupported"
# Its config's file is taken from docker-stack.yml's folder (the first file's), not its own.
config=$(docker stack config "${stacks[@]}" | python3 -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["configs"]["prometheus"]["file"])')
[ "$config" = "$PWD/autoscaler/prometheus.yml" ] || fail "the stack's Prometheus config is $config, not autoscaler/prometheus.yml"
promtool check config "$config" >/dev/null || fail "promtool check config $config"
pass "autoscaler/docker-stack.autoscale.yml has no unsupported keys, and takes autoscaler/prometheus.yml, which passes promtool"

autoscale_lab_up
pass "deployed on the lab with AUTOSCALE=1: $(docker stack services "$AS_STACK" --format '{{.Name}} {{.Replicas}}' | sed "s/^${AS_STACK}_//" | paste -sd ',' | sed 's/,/, /g')"

wait_until 90 "the autoscaler reads the producer's rate from Prometheus" at_least 1 readings
pass "the autoscaler reads the rate from Prometheus: '$(producer_decisions | grep ' req/s on ' | tail -n 1)'"
consumer_version() { docker service inspect --format '{{.Version.Index}}' "${AS_STACK}_consumer"; }
consumer_before=$(consumer_version)

# A poller asks 10 times a second all through, each time on a new connection after a new DNS
# lookup, so it meets every replica that comes and goes. hey adds 200/s for 90 s: 4 replicas'
# worth, through the scale-up and a Prometheus restart.
poller_start "$AS_STACK" "$TAG"
wait_until 30 "the poller receives numbers" at_least 5 poller_count "Received number: "
load hey 200 90
load_started=$SECONDS
wait_until 60 "a scale-up to 3 or more running replicas within 60 s of the load" at_least 3 running_replicas
pass "scale-up: $(running_replicas) replicas running $((SECONDS - load_started)) s after 200 req/s started (target 50 each): '$(producer_decisions | grep ' scale up ' | sed -n 1p)'"

# The rate limit: 1 -> 4 in steps of one replica, at least a period apart.
wait_until 40 "the scale-up to 4 replicas" prints 4 spec_replicas
steps=$(autoscaler_log_timed | grep " ${AS_STACK}_producer: .* scale up " || true)
bad=$(awk '{ for (i = 1; i < NF; i++) if ($i == "->") { from = $(i - 1); to = $(i + 1); sub(/,$/, "", to); if (to - from != 1) print } }' <<<"$steps")
[ -z "$bad" ] || fail "a scale-up larger than the policy's 1 pod per ${period}s: $bad"
[ "$(wc -l <<<"$steps")" -ge 3 ] || fail "1 -> 4 in fewer than 3 steps: $steps"
gaps=$(awk '{ split($1, t, /[T:Z]/); s = t[2] * 3600 + t[3] * 60 + t[4]; if (NR > 1) printf "%.1f ", s - last; last = s }' <<<"$steps")
for gap in $gaps; do
  awk -v g="$gap" -v p="$period" 'BEGIN { exit !(g >= p) }' || fail "two scale-ups $gap s apart, within the policy's ${period}s period: $steps"
done
held=$(producer_decisions | grep -c "the scale-up policy allows no more now (1 pod per ${period}s)" || true)
pass "rate limit: 200 req/s wanted 4 replicas at once, met in $(wc -l <<<"$steps") steps of +1, ${gaps% } s apart (policy: 1 pod per ${period}s); $held decisions say the policy held them"

# Prometheus restarts under load, and starts empty (its data is on tmpfs): while it is gone there
# is no data, and once it is back each replica's series starts again, so rate() over the window
# has gaps. None of that may remove a replica that the load needs.
before=$(spec_replicas) mark=$(producer_decisions | wc -l)
since_restart() { producer_decisions | tail -n +$((mark + 1)); }
docker service update --force --detach=true "${AS_STACK}_prometheus" >/dev/null
restarted=$SECONDS
lowest=$before
while [ "$(docker inspect --format '{{.State.Running}}' hey 2>/dev/null)" = true ]; do
  now=$(spec_replicas)
  [ "$now" -ge "$lowest" ] || lowest=$now
  sleep 1
done
read -r answered failed < <(load_result hey)
stopped=$SECONDS
[ "$lowest" -ge "$before" ] || fail "a scale-down from $before to $lowest after Prometheus restarted under load: $(producer_decisions | tail -n 12)"
after=$(since_restart | sed "s/^${AS_STACK}_producer: //")
blind=$(grep -c '^no change (' <<<"$after" || true)
holding=$(grep -c 'holding: ' <<<"$after" || true)
said="$(grep -m1 '^no change (' <<<"$after" || true)' and '$(grep -m1 'holding: ' <<<"$after" || true)"
pass "Prometheus restarted under load: $before replicas stayed $before for the $((stopped - restarted)) s until the load ended ($blind rounds without data, $holding held because not every replica was scraped for the whole window); the autoscaler said '$said'"
if [ "$answered" -eq 0 ] || [ "$failed" -ne 0 ]; then
  fail "hey: $answered answered, $failed failed: $(docker logs hey 2>&1 | tail -n 8)"
fi
pass "hey: $answered requests answered, 0 failed, through the scale-up and the Prometheus restart"

wait_until 150 "a scale-down to 1 replica after the load stopped" prints 1 running_replicas
took=$((SECONDS - stopped))
[ "$took" -ge "$window" ] || fail "back to 1 replica $took s after the load stopped: sooner than the ${window}s window"
pass "scale-down: back to 1 replica $took s after the load stopped, not before the ${window}s window: $(producer_decisions | grep -c ' scale down ') steps, the last '$(producer_decisions | grep ' scale down ' | tail -n 1)'"

poller_stop
ok=$(poller_count "Received number: ") errors=$(poller_count "Error fetching the number: ")
[ "$errors" -eq 0 ] || fail "the poller failed $errors times: $(poller_log | grep '^Error' | sed -n 1,3p)"
pass "the poller: $ok requests answered, 0 failed, through the scale-up, the restart and the scale-down"

# The autoscaler's own metrics, as the stack's Prometheus scraped them (since its restart).
ups=$(prometheus_value "sum(autoscaler_decisions_total{service=\"${AS_STACK}_producer\",outcome=\"scale_up\"})")
desired=$(prometheus_value "autoscaler_desired_replicas{service=\"${AS_STACK}_producer\"}")
[ "${ups:-0}" -ge 3 ] || fail "Prometheus has $ups scale-ups in autoscaler_decisions_total, not 3 or more: $(prometheus_value 'up{job="autoscaler"}')"
[ "$desired" = 1 ] || fail "Prometheus has autoscaler_desired_replicas $desired, not 1"
pass "Prometheus scrapes the autoscaler: autoscaler_decisions_total counts $ups scale-ups of the producer, autoscaler_desired_replicas is $desired"

# Only the producer has the labels. The consumer's spec must be the one deployed, and no line of
# the autoscaler may name another service.
others=$(autoscaler_log | grep "^${AS_STACK}_" | grep -v "^${AS_STACK}_producer: " || true)
[ -z "$others" ] || fail "the autoscaler acted on services without the labels: $others"
[ "$(consumer_version)" = "$consumer_before" ] || fail "the consumer's spec changed from version $consumer_before to $(consumer_version)"
pass "services without the labels are never touched: the consumer's spec is still version $consumer_before, and all $(producer_decisions | wc -l) decisions name the producer only"
say "test-autoscale took $SECONDS s"
