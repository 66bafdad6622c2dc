#!/usr/bin/env bash
# End-to-end test of Day 03: xOpera deploys tosca/service.yaml on the swarm lab's three hosts,
# started fresh with no swarm and an sshd each (LAB_SSH=1), reached over SSH as Pis are.
# 1 validate; 2 deploy: the swarm forms, the stack runs, /number answers on every node, the
# consumer hears several replicas; 3 deploy again: nothing changes; 4 one property changes: only
# it rolls out; 5 undeploy: nothing is left. Then bad inputs: each is refused, or fails with the
# node and the operation named, and undeploy removes what it left. Prints the figures of
# tosca/README.md. The lab and the images are removed at the end, whatever happens.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vm/lab.sh"
cd "$(dirname "$0")/.."
require_lab "swarm lab" lab_missing swarm_lab_in_use
[ -x .venv-tosca/bin/opera ] || skip_or_fail "no opera in .venv-tosca (make deps installs it)"
[ -x /usr/sbin/sshd ] || skip_or_fail "openssh-server is not installed (make deps installs it)"
require_tools "make test-tosca" ssh ssh-keygen /usr/bin/time curl

export REGISTRY=fogdeft-tosca-test TAG=tosca
stack=fogdeft
seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}'; }
work=$(mktemp -d /tmp/fogdeft-test-tosca.XXXXXX)
cleanup() {
  for inputs in "$work"/*.yaml; do scripts/tosca.sh undeploy "$inputs" >/dev/null 2>&1 || true; done
  vm/swarm-lab-down.sh >/dev/null || echo "FAIL: make swarm-lab-down" >&2
  remove_images "$TAG"
  rm -rf "$work" .opera-tosca/test-tosca-*
}
trap cleanup EXIT

make --no-print-directory images >/dev/null 2>&1 || fail "make images"
LAB_SSH=1 vm/swarm-lab-up.sh >/dev/null || fail "LAB_SSH=1 make swarm-lab-up"
pass "lab: $LAB_NODES fresh Docker hosts, no swarm, an sshd on each"
use_swarm_net

# inputs NAME [KEY: VALUE...]: writes the inputs file $work/test-tosca-NAME.yaml (its own
# deployment state too) for the three lab nodes, and prints its path.
inputs() {
  local file=$work/test-tosca-$1.yaml node
  shift
  {
    [ $# -eq 0 ] || printf '%s\n' "$@"   # first, so that they win over the defaults below
    for node in $(seq "$LAB_NODES"); do echo "node_${node}_address: $(lab_ip "$node")"; done
    printf '%s\n' "registry: $REGISTRY" "tag: $TAG" "networking: $SWARM_NET" "poll_interval: 300ms"
  } | awk -F: '!seen[$1]++' >"$file"
  echo "$file"
}
good=$(inputs good "producer_replicas: $LAB_NODES")

# --- 1. validate
scripts/tosca.sh validate "$good" >/dev/null || fail "make tosca-validate"
pass "1. the template and the lab's inputs are valid"

# --- 2. deploy from nothing, with the orchestrator's and each node's costs
for node in $(seq "$LAB_NODES"); do
  lab_node_usage_reset "$node"
  before[node]=$(lab_node_usage "$node")
done
start=$EPOCHREALTIME
OPERA_TIME=$work/opera-time scripts/tosca.sh deploy "$good" >"$work/deploy.log" 2>&1 || { cat "$work/deploy.log"; fail "make tosca-deploy"; }
deploy_time=$(seconds_since "$start")
for node in $(seq "$LAB_NODES"); do after[node]=$(lab_node_usage "$node"); done

wait_until 30 "all $LAB_NODES nodes Ready in one swarm" nodes_ready "$LAB_NODES" lab_docker
export DOCKER_HOST
DOCKER_HOST=$(lab_host 1)
wait_converged "$stack" 60
number_at() { curl -fsS -m 2 -i "http://$(lab_ip "$1"):5000/number"; }
served=()
for node in $(seq "$LAB_NODES"); do
  answer=$(number_at "$node") || fail "no /number on node $node's published port ($(lab_ip "$node"):5000)"
  grep -q '"number": *[0-9]' <<<"$answer" || fail "node $node answered: $answer"
  served+=("$(sed -n 's/^X-Served-By: *\([^[:space:]]*\).*/\1/p' <<<"$answer")")
done
grep -q "http://$(lab_ip 1):5000/number" "$work/deploy.log" || fail "the outputs do not give the /number URL: $(tail -6 "$work/deploy.log")"
pass "2. deployed from nothing in $deploy_time s: swarm of $LAB_NODES, /number on every node (${served[*]}), outputs give the URLs"
replicas_heard() { docker service logs "${stack}_consumer" 2>/dev/null | sed -n 's/.*Received number: [0-9]* (from \(.*\))/\1/p' | sort -u | wc -l; }
wait_until 60 "the consumer hears several producer replicas" at_least 2 replicas_heard
pass "2. the consumer prints numbers from $(replicas_heard) replicas"

# --- 3. deploy again: no container, no service changes
# snapshot: every container of every node with its start time, and each service's version.
snapshot() {
  local node
  for node in $(seq "$LAB_NODES"); do
    lab_docker "$node" ps -q | xargs -r docker -H "$(lab_host "$node")" inspect --format '{{.Id}} {{.State.StartedAt}}'
  done | sort
  docker service inspect "${stack}_producer" "${stack}_consumer" --format '{{.Spec.Name}} {{.Version.Index}}'
}
snapshot >"$work/before"
scripts/tosca.sh deploy "$good" >"$work/redeploy.log" 2>&1 || { cat "$work/redeploy.log"; fail "second make tosca-deploy"; }
snapshot >"$work/after"
diff "$work/before" "$work/after" >&2 || fail "the second deploy changed the containers or services above"
pass "3. deploying again changes nothing: $(grep -c . "$work/before") containers and services, same IDs, start times, versions"

# --- 4. one property changes: only that rolls out
fewer=$((LAB_NODES - 1))
changed=$(inputs good "producer_replicas: $fewer")
spec() { docker service inspect "$1" --format '{{json .Spec.TaskTemplate}} {{json .Spec.EndpointSpec}}'; }
producer_spec=$(spec "${stack}_producer") consumer_line=$(grep "${stack}_consumer" "$work/after")
scripts/tosca.sh deploy "$changed" >"$work/change.log" 2>&1 || { cat "$work/change.log"; fail "make tosca-deploy with producer_replicas: $fewer"; }
wait_converged "$stack" 60
snapshot >"$work/changed"
[ "$(docker service inspect "${stack}_producer" --format '{{.Spec.Mode.Replicated.Replicas}}')" = "$fewer" ] || fail "producer replicas did not become $fewer"
[ "$(spec "${stack}_producer")" = "$producer_spec" ] || fail "more than the replica count changed in the producer's spec"
grep -qxF "$consumer_line" "$work/changed" || fail "the consumer service changed: $(grep "${stack}_consumer" "$work/changed")"
gone=$(comm -23 <(grep -v "^$stack" "$work/after") <(grep -v "^$stack" "$work/changed") | wc -l)
new=$(comm -13 <(grep -v "^$stack" "$work/after") <(grep -v "^$stack" "$work/changed") | wc -l)
[ "$gone.$new" = 1.0 ] || fail "replicas $LAB_NODES -> $fewer: $gone containers stopped and $new started (want 1 and 0)"
pass "4. producer_replicas $LAB_NODES -> $fewer: one producer stopped, nothing else restarted, the consumer untouched"

# --- 5. undeploy: no service, network, secret or container; every node out of the swarm
unset DOCKER_HOST
start=$EPOCHREALTIME
OPERA_TIME=$work/opera-undeploy-time scripts/tosca.sh undeploy "$changed" >"$work/undeploy.log" 2>&1 || { cat "$work/undeploy.log"; fail "make tosca-undeploy"; }
undeploy_time=$(seconds_since "$start")
# left_over: what a deployment left on the lab's nodes, one line per thing.
left_over() {
  local node state
  for node in $(seq "$LAB_NODES"); do
    state=$(lab_docker "$node" info --format '{{.Swarm.LocalNodeState}}')
    [ "$state" = inactive ] || echo "node $node: swarm $state"
    lab_docker "$node" ps -aq | sed "s/^/node $node: container /"
    lab_docker "$node" network ls -q --filter "label=com.docker.stack.namespace=$stack" | sed "s/^/node $node: network /"
  done
  find /tmp -maxdepth 1 -name 'fogdeft-tosca-*' | sed 's/^/folder /'
}
wait_until 20 "nothing left after undeploy: $(left_over | tr '\n' ' ')" prints "" left_over
pass "5. undeployed in $undeploy_time s: every node out of the swarm (so no service, secret or network of it), no container left"

# --- Figures (tosca/README.md)
opera_figures() {
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {m=$2} END {printf "%.1f s CPU, %.0f MiB peak", u + s, m / 1024}' "$1"
}
say "deploy from nothing: $deploy_time s; opera: $(opera_figures "$work/opera-time") (with ansible-playbook, its children)"
say "undeploy: $undeploy_time s; opera: $(opera_figures "$work/opera-undeploy-time")"
for node in $(seq "$LAB_NODES"); do
  read -r cpu0 mem0 _ <<<"${before[node]}"
  read -r cpu1 mem1 peak1 <<<"${after[node]}"
  say "node $node during the deploy: $(( (cpu1 - cpu0) / 1000000 )) ms CPU, memory +$(( (mem1 - mem0) / 1048576 )) MiB (peak $(( peak1 / 1048576 )) MiB), dockerd, sshd, Ansible and containers together"
done

# --- Bad inputs: each refused, or failing with the node and operation named; nothing stays.
expect_failure() {   # expect_failure WHAT PATTERN COMMAND...: COMMAND fails, saying PATTERN
  local what=$1 pattern=$2 out
  shift 2
  if out=$("$@" 2>&1); then fail "$what was accepted"; fi
  grep -qE "$pattern" <<<"$out" || fail "$what: the error does not say /$pattern/: $(tail -3 <<<"$out")"
  pass "$what: $(grep -m1 -E "$pattern" <<<"$out" | cut -c1-220)"
}
nothing_left() { wait_until 20 "nothing left: $(left_over | tr '\n' ' ')" prints "" left_over; }

bad=$(inputs bad-replicas "producer_replicas: -1")
expect_failure "producer_replicas: -1" "producer_replicas.*in_range" scripts/tosca.sh validate "$bad"
expect_failure "producer_replicas: -1 on deploy" "producer_replicas.*in_range" scripts/tosca.sh deploy "$bad"
nothing_left

mkdir "$work/template"
cp -r tosca/service.yaml tosca/types tosca/playbooks "$work/template/"
sed -i '/- leader: swarm-leader/d' "$work/template/service.yaml"
expect_failure "a worker without its leader requirement" "Missing requirements: leader" \
  env TOSCA_TEMPLATE="$work/template/service.yaml" scripts/tosca.sh validate "$good"

bad=$(inputs bad-range "number_min: 50" "number_max: 10")
expect_failure "number_max below number_min" "operation create on numbers.*number_max \(10\) is below number_min \(50\)" \
  scripts/tosca.sh deploy "$bad"
scripts/tosca.sh undeploy "$bad" >/dev/null 2>&1 || fail "undeploy after the bad number range"
nothing_left
pass "undeploy after the bad number range leaves nothing"

bad=$(inputs bad-tag "tag: no-such-tag")
expect_failure "a tag that no node has" "operation create on numbers.*no-such-tag.*fog node $(lab_ip 1)" \
  timeout 600 scripts/tosca.sh deploy "$bad"
scripts/tosca.sh undeploy "$bad" >/dev/null 2>&1 || fail "undeploy after the bad tag"
nothing_left
pass "undeploy after the bad tag leaves nothing"

unreachable=$LAB_SUBNET.19
bad=$(inputs bad-node "node_3_address: $unreachable")
expect_failure "an unreachable node" "operation configure on swarm-worker-3.*$unreachable.*unreachable" \
  timeout 600 scripts/tosca.sh deploy "$bad"
scripts/tosca.sh undeploy "$bad" >"$work/undeploy-bad.log" 2>&1 || { cat "$work/undeploy-bad.log"; fail "undeploy after the unreachable node"; }
nothing_left
pass "undeploy after the unreachable node leaves nothing on the nodes that answer"
