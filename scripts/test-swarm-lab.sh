#!/usr/bin/env bash
# End-to-end test of Scenario 02 on a real three-host swarm: the lab of swarm-lab-up.sh, driven
# through the Makefile's own targets. Tasks spread over hosts, traffic crosses the overlay
# network between hosts, a rolling update drops nothing, a drained node's tasks move, and a
# node that dies is replaced. The lab is removed at the end, whatever happens.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lab.sh"
cd "$(dirname "$0")/.."
require_docker
missing=$(lab_missing)
[ -z "$missing" ] || skip_or_fail "the swarm lab needs $missing"
[ ! -e "$LAB_RUN" ] || skip_or_fail "a swarm lab is already running here (make swarm-lab-down removes it)"

export STACK=fogdeft-lab-test
stack=$STACK
export REGISTRY=fogdeft-lab-test POLL_INTERVAL=300ms PRODUCER_REPLICAS=3
cleanup() {
  unset DOCKER_HOST
  scripts/swarm-lab-down.sh >/dev/null || echo "FAIL: make swarm-lab-down" >&2
  for tag in lab1 lab2; do
    for program in "${PROGRAMS[@]}"; do docker rmi "$REGISTRY/$program:$tag" >/dev/null 2>&1 || true; done
  done
}
trap cleanup EXIT

stack_make images TAG=lab1 >/dev/null 2>&1 || fail "make images"
docker tag "$REGISTRY/producer:lab1" "$REGISTRY/producer:lab2"
docker tag "$REGISTRY/consumer:lab1" "$REGISTRY/consumer:lab2"
stack_make swarm-lab-up TAG=lab1 >/dev/null || fail "make swarm-lab-up"
for node in $(seq "$LAB_NODES"); do
  lab_docker "$node" tag "$REGISTRY/producer:lab1" "$REGISTRY/producer:lab2"
  lab_docker "$node" tag "$REGISTRY/consumer:lab1" "$REGISTRY/consumer:lab2"
done
export DOCKER_HOST
DOCKER_HOST=$(lab_host 1)

status() { docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}'; }
[ "$(status | grep -c ' Ready Active$')" = 3 ] || fail "nodes: $(status)"
pass "make swarm-lab-up: 3 nodes Ready, each its own host: $(docker node ls --format '{{.Hostname}}' | paste -sd ' ')"

export SWARM_NET=dnsrr
if ipvs_available; then SWARM_NET=vip; fi
stack_make swarm-deploy TAG=lab1 >/dev/null || fail "make swarm-deploy against the lab"

# Where the tasks run, and what the consumer hears.
producer_nodes() { docker service ps "${stack}_producer" --filter desired-state=running --format '{{.Node}}'; }
consumer_node() { docker service ps "${stack}_consumer" --filter desired-state=running --format '{{.Node}}'; }
logs() { docker service logs --raw "${stack}_consumer" 2>/dev/null; }
received() { logs | grep -c '^Received number: ' || true; }
errors() { logs | grep -c '^Error fetching the number: ' || true; }
source_nodes() { logs | sed -n 's/^Received number: .* (from \(.*\)-producer-[0-9]*)$/\1/p' | sort -u; }

spread=$(producer_nodes | sort -u | wc -l)
[ "$spread" -ge 2 ] || fail "3 producer replicas on $spread node(s): $(producer_nodes | paste -sd ' ')"
pass "3 producer replicas on $spread different nodes: $(producer_nodes | sort | paste -sd ' ')"

source_node_count() { source_nodes | wc -l; }
wait_until 60 "the consumer hears replicas on 2 different nodes" at_least 2 source_node_count
remote=$(source_nodes | grep -vx "$(consumer_node)" | paste -sd ' ')
[ -n "$remote" ] || fail "the consumer on $(consumer_node) heard only its own node"
pass "the consumer on $(consumer_node) receives numbers from $(source_nodes | paste -sd ' ') (over the overlay network from $remote)"

# The poller runs on the manager; the replicas it reaches run on every node.
poll_through_update "$stack" lab1 lab2 "rolling update across the nodes ($(producer_nodes | sort -u | paste -sd ' '))"

# Drain a worker that runs producer tasks but not the consumer, so that the consumer's own
# view is what we watch: it must go on receiving.
drained=$(producer_nodes | grep -vx -e "$(consumer_node)" -e "$(lab_ns 1)" | head -n 1)
[ -n "$drained" ] || fail "no worker runs a producer task without the consumer: $(producer_nodes | paste -sd ' ')"
before=$(received) errors_before=$(errors)
docker node update --availability drain "$drained" >/dev/null
moved() { ! producer_nodes | grep -qx "$drained" && [ "$(producer_nodes | wc -l)" = 3 ] && converged "$stack"; }
wait_until 90 "the producer tasks leave drained $drained" moved
wait_until 30 "the consumer goes on receiving after the drain" at_least $((before + 4)) received
[ "$(errors)" -eq "$errors_before" ] || fail "the consumer failed $(($(errors) - errors_before)) polls during the drain: $(logs | grep '^Error' | tail -n 3)"
pass "drained $drained: its producer tasks moved to $(producer_nodes | sort -u | paste -sd ' ') and the consumer kept receiving ($(($(received) - before)) numbers, 0 errors)"
docker node update --availability active "$drained" >/dev/null

# Pull the plug on the other worker: daemon, containerd and containers at once.
victim=$(docker node ls --format '{{.Hostname}}' | grep -vx -e "$drained" -e "$(lab_ns 1)" | head -n 1)
stack_make swarm-lab-kill NODE="${victim##*-}" >/dev/null || fail "make swarm-lab-kill"
node_down() { docker node ls --format '{{.Hostname}} {{.Status}}' | grep -qx "$victim Down"; }
wait_until 60 "the manager marks $victim Down" node_down
restored() { ! producer_nodes | grep -qx "$victim" && ! consumer_node | grep -qx "$victim" && converged "$stack"; }
wait_until 90 "Swarm restores every replica away from $victim" restored
before=$(received)
wait_until 30 "the stack keeps serving after losing $victim" at_least $((before + 4)) received
pass "killed $victim: the manager marked it Down, and the replicas run again on $(producer_nodes | sort -u | paste -sd ' ') while the consumer receives"
