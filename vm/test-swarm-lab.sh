#!/usr/bin/env bash
# End-to-end test of Scenario 02 on the network-namespace lab of swarm-lab-up.sh (five dockerd
# hosts on this machine, three of them managers), driven through the Makefile's own targets. The
# steps are those of the VM lab's test (lab-scenario.sh): tasks spread over hosts, traffic
# crosses the overlay network between hosts, a rolling update drops nothing, a drained node's
# tasks move, and a node that dies is replaced. Then the drills (drills/README.md) on the same
# lab: one lab for both, as each takes seconds to start but the checks minutes. The lab is
# removed at the end, whatever happens.
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/lab.sh"
cd "$(dirname "$0")/.."
require_lab "swarm lab" lab_missing swarm_lab_in_use

export STACK=fogdeft-lab-test
# Five hosts, three of them managers: the drills need a quorum that survives a lost manager.
export LAB_NODES=5 LAB_MANAGERS=3
old=lab1 new=lab2
export REGISTRY=fogdeft-lab-test POLL_INTERVAL=300ms PRODUCER_REPLICAS=$LAB_NODES
cleanup() {
  unset DOCKER_HOST
  vm/swarm-lab-down.sh >/dev/null || echo "FAIL: make swarm-lab-down" >&2
  remove_images "$old" "$new"
}
trap cleanup EXIT

# What a killed run leaves behind must not block the next one, and a lab that a person started
# must not be taken for it. A stand-in lab: its folder, node 1's namespace, and one process in
# node 1's cgroup, owned first by a test that is gone, then by nobody.
fake_lab() {
  mkdir -p "$LAB_RUN" "$LAB_CGROUP/node-1"
  ip netns add "$(lab_ns 1)"
  sleep 600 &
  disown   # killed by the lab's removal; not a job whose death this shell reports
  echo $! >"$LAB_CGROUP/node-1/cgroup.procs"
}
true & dead=$!
wait "$dead"
fake_lab
echo "$dead" >"$LAB_RUN/owner"
! swarm_lab_in_use >/dev/null || fail "a lab whose test is gone was taken for one in use"
if [ -e "$LAB_RUN" ] || [ -n "$(network_left "$LAB")" ] || lab_alive; then
  fail "the lab that a killed run left behind was not removed"
fi
fake_lab
swarm_lab_in_use || fail "a running lab that no test owns was taken for a leftover"
vm/swarm-lab-down.sh >/dev/null
pass "a lab that a killed test left behind is removed; a running lab of a person's is not touched"

# No registry: the images are loaded into every node from this host's engine, under both tags.
stack_make images TAG="$old" >/dev/null 2>&1 || fail "make images"
docker tag "$REGISTRY/producer:$old" "$REGISTRY/producer:$new"
docker tag "$REGISTRY/consumer:$old" "$REGISTRY/consumer:$new"
stack_make swarm-lab-up TAG="$old" >/dev/null || fail "make swarm-lab-up"
for node in $(seq "$LAB_NODES"); do
  lab_docker "$node" tag "$REGISTRY/producer:$old" "$REGISTRY/producer:$new"
  lab_docker "$node" tag "$REGISTRY/consumer:$old" "$REGISTRY/consumer:$new"
done
pass "make swarm-lab-up: $LAB_NODES dockerd hosts, each in its own namespaces"

export DOCKER_HOST
DOCKER_HOST=$(lab_host 1)
use_swarm_net
vm/lab-scenario.sh swarm "$STACK" "$old" "$new" yes || fail "Scenario 02 on the lab"

# The drills (drills/README.md) on the same lab, once the node that the scenario killed is back.
nodes=$(docker node ls --format '{{.Hostname}} {{.Status}}')
victim=$(awk '$2 == "Down" {print $1}' <<<"$nodes")
[ "$(wc -w <<<"$victim")" = 1 ] || fail "one node should be Down after the scenario: $nodes"
stack_make swarm-lab-start NODE="${victim##*-}" >/dev/null
node_ready() { grep -qx "$victim Ready" <<<"$(docker node ls --format '{{.Hostname}} {{.Status}}')"; }
wait_until 90 "$victim Ready again after its power came back" node_ready
pass "$victim back: Ready again, with no replica until something moves one there"
for drill in leader partition release quorum recover restart; do
  started=$SECONDS
  stack_make "drill-$drill" || fail "make drill-$drill"
  say "make drill-$drill took $((SECONDS - started)) s"
done
