#!/usr/bin/env bash
# `make autoscale-demo`: the tutorial's Day 2 autoscaling exercise in one command, on the swarm
# lab. The stack runs with AUTOSCALE=1; hey offers the producer a stepped load (idle, 150, 400,
# 180 req/s, idle) while the autoscaler adds and removes replicas, and each step's CPU use is
# sampled, to compare with the tutorial's CPU rule. At the end it prints the timeline (time,
# offered and measured requests/s, replicas, decision) and writes it to demo/autoscale.md, with
# the chart in demo/autoscale.svg. About 6.5 minutes; the lab and the images are removed at
# the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vm/lab.sh"
. "$(dirname "$0")/autoscale-lab.sh"
cd "$(dirname "$0")/.."
autoscale_lab_check

# A shorter interval, window and rate window than the defaults (15 s, 5 min, 1 min), so that the
# story fits in minutes. The target is the stack's default: 100 req/s per replica.
export AUTOSCALE_INTERVAL=${AUTOSCALE_INTERVAL:-5s} STABILIZATION_WINDOW=${STABILIZATION_WINDOW:-1m}
export AUTOSCALE_TARGET_RPS=${AUTOSCALE_TARGET_RPS:-100}
export AUTOSCALE_RATE_WINDOW=${AUTOSCALE_RATE_WINDOW:-30s}
# Requests/s and seconds of each step; the last idle step lasts until 1 replica is left.
# Each step lies between two multiples of the target, so that the replicas it needs are clear.
steps=("0 20" "150 60" "400 60" "180 90")

work=$(mktemp -d)
trap 'autoscale_lab_down; rm -rf "$work"' EXIT
say "building the images and starting the lab with Prometheus and the autoscaler (about a minute)"
autoscale_lab_up
# CPU of each producer replica, as docker stats shows it (100 % = one core), over every node.
producer_cpu() {
  local node ids
  for node in $(seq "$LAB_NODES"); do
    ids=$(lab_docker "$node" ps -q --filter "label=com.docker.swarm.service.name=${AS_STACK}_producer")
    # shellcheck disable=SC2086 # one container ID per word
    [ -z "$ids" ] || lab_docker "$node" stats --no-stream --format '{{.CPUPerc}}' $ids
  done | paste -sd ' '
}
wait_until 90 "the autoscaler reads the producer's rate from Prometheus" at_least 1 readings

for step in "${steps[@]}"; do
  read -r rps seconds <<<"$step"
  echo "$(date +%s.%N) $rps" >>"$work/phases"
  say "$(date +%T) offering $rps req/s for $seconds s (producer: $(running_replicas) replicas)"
  if [ "$rps" -gt 0 ]; then
    load "load-$rps" "$rps" "$seconds"
    sleep $((seconds - 15))   # late in the step, when the replicas have settled
    cpu=$(producer_cpu)
    read -r answered failed < <(load_result "load-$rps")
    say "hey at $rps req/s: $answered answered, $failed failed; CPU of each producer replica late in the step: $cpu"
    echo "| $rps | $answered | $failed | $cpu |" >>"$work/steps"
  else
    sleep "$seconds"
  fi
done
echo "$(date +%s.%N) 0" >>"$work/phases"
say "$(date +%T) load stopped; waiting for the scale-down to 1 replica"
wait_until 240 "back to 1 replica" prints 1 spec_replicas
sleep 15   # a few more rounds at 1 replica, for the chart

docker service logs --timestamps --raw "${AS_STACK}_autoscaler" >"$work/log" 2>/dev/null
mkdir -p demo
{
  echo "# Autoscaling demo: a real run of \`make autoscale-demo\`"
  echo
  echo "On $(date +%F), on the three-node swarm lab on this machine ($(nproc) cores), Prometheus"
  echo "$(prometheus --version 2>&1 | awk 'NR == 1 {print $3}') scraping every 5 s. Target $AUTOSCALE_TARGET_RPS req/s per replica,"
  echo "interval $AUTOSCALE_INTERVAL, stabilization window $STABILIZATION_WINDOW, rate window $AUTOSCALE_RATE_WINDOW."
  echo "Load: hey on the stack's network, a new connection per request. Chart: [autoscale.svg](autoscale.svg)."
  echo
  echo "| offered req/s | hey: answered | failed | CPU of each producer replica 15 s before the step's end (docker stats, 100 % = one core) |"
  echo "|---:|---:|---:|---|"
  cat "$work/steps"
  echo
  scripts/autoscale-chart.py "${AS_STACK}_producer" "$work/phases" "$work/log" demo/autoscale.svg
} >"$work/autoscale.md"
mv "$work/autoscale.md" demo/autoscale.md
cat demo/autoscale.md
say "wrote demo/autoscale.md and demo/autoscale.svg"
