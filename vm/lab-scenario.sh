#!/usr/bin/env bash
# Scenario 02 on a lab, shared by test-swarm-lab.sh (network namespaces) and test-vm-lab.sh
# (virtual machines). It runs once the lab is up, DOCKER_HOST names its manager and both tags of
# the images are where the nodes find them:
#   vm/lab-scenario.sh swarm|vm STACK OLD_TAG NEW_TAG DRAIN
# It deploys STACK with OLD_TAG, updates it to NEW_TAG, drains a node when DRAIN is yes, and
# pulls the plug on a worker. REGISTRY, SWARM_NET and the stack's settings come from the
# environment, as for `make swarm-deploy`. Node N's hostname ends in -N (fogdeft-lab-2,
# fogdeft-vm-2). With LAB_PAGE_SCREENSHOT=FILE.png, the live page's check through the routing
# mesh saves what it showed.
. "$(dirname "$0")/../scripts/lib.sh"
usage="usage: $0 swarm|vm STACK OLD_TAG NEW_TAG yes|no"
[ $# -eq 5 ] || bad_config "$usage"
lab=$1 stack=$2 old=$3 new=$4 drain=$5
export STACK=$stack
# What differs between the labs: docker on node N, its power cut, and its IPVS table.
case $lab in
  swarm)
    . "$(dirname "$0")/lab.sh"
    nodes=$LAB_NODES
    node_docker() { lab_docker "$@"; }
    node_kill() { stack_make swarm-lab-kill NODE="$1" >/dev/null; }
    node_ipvs() { nsenter --net="$LAB_RUN/node-$1/exec/netns/ingress_sbox" ipvsadm -Ln; }
    ;;
  vm)
    . "$(dirname "$0")/vm-lab.sh"
    nodes=$VM_NODES
    node_docker() { vm_docker "$@"; }
    node_kill() { stack_make vm-lab-kill NODE="$1" >/dev/null; }
    node_ipvs() { vm_exec "$1" nsenter --net=/var/run/docker/netns/ingress_sbox ipvsadm -Ln; }
    ;;
  *) bad_config "$usage" ;;
esac
[[ $drain =~ ^(yes|no)$ ]] || bad_config "$usage"
cd "$(dirname "$0")/.."
trap '[ -z "${poller_name:-}" ] || poller_remove' EXIT

# The nodes, and the platform of each (lib.sh's table) from its `uname -m`, which swarm reports.
status() { docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}'; }
[ "$(status | grep -c ' Ready Active$')" = "$nodes" ] || fail "nodes: $(status)"
node_platform() { platform_of_machine "$(docker node inspect --format '{{.Description.Platform.Architecture}}' "$1")"; }
hosts=$(docker node ls --format '{{.Hostname}}' | sort)
manager=$(docker node ls --filter role=manager --format '{{.Hostname}}' | sed -n 1p)
pass "$nodes nodes Ready: $(for h in $hosts; do printf '%s (%s) ' "$h" "$(docker node inspect --format '{{.Description.Platform.Architecture}}' "$h")"; done)"

stack_make swarm-deploy TAG="$old" >/dev/null || fail "make swarm-deploy TAG=$old against the lab"

# Where the tasks run, and what the consumer hears.
tasks() { docker service ps "${stack}_$1" --filter desired-state=running --format '{{.Node}} {{.ID}}'; }
producer_nodes() { tasks producer | cut -d' ' -f1; }
consumer_node() { tasks consumer | cut -d' ' -f1; }
# Where a service's tasks run now. Once a node is lost, counting replicas is no help: its tasks
# keep their last state, Running, and `docker stack services` may count them (producer 4/3).
running_nodes() {
  docker service ps "${stack}_$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' |
    awk '$2 == "Running" {print $1}'
}
logs() { docker service logs --raw "${stack}_consumer" 2>/dev/null; }
received() { logs | grep -c '^Received number: ' || true; }
errors() { logs | grep -c '^Error fetching the number: ' || true; }
source_nodes() { logs | sed -n 's/^Received number: .* (from \(.*\)-producer-[0-9]*)$/\1/p' | sort -u; }

# A replica that failed its first health checks (slow emulated nodes) is replaced: wait for it.
spread() { [ "$(producer_nodes | sort -u | wc -l)" = "$nodes" ] && converged "$stack"; }
wait_until 120 "a producer replica on each of the $nodes nodes" spread
pass "$(producer_nodes | wc -l) producer replicas, one on each node: $(producer_nodes | sort | paste -sd ' ')"

# Each node pulled (or was given) the image of its own platform: read it off the container.
checked=()
while read -r node task; do
  container=$(docker inspect --format '{{.Status.ContainerStatus.ContainerID}}' "$task")
  image=$(node_docker "${node##*-}" inspect --format '{{.Image}}' "$container")
  actual=$(node_docker "${node##*-}" image inspect --format '{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}' "$image")
  platform=$(node_platform "$node")
  expected=$(docker_platform "$platform")
  [ "$actual" = "$expected" ] || fail "the producer on $node ($expected) runs an image for $actual"
  checked+=("$node:$actual")
done < <(tasks producer)
pass "every producer replica runs the image for its node's platform: ${checked[*]}"

source_node_count() { source_nodes | wc -l; }
wait_until 90 "the consumer hears replicas on all $nodes nodes" at_least "$nodes" source_node_count
pass "the consumer on $(consumer_node) receives numbers from replicas on $(source_nodes | paste -sd ' ') (over the overlay network)"

if [ "$SWARM_NET" = vip ]; then
  # The routing mesh: IPVS in each node's ingress namespace balances the published port over
  # the replicas' addresses on the ingress network.
  ingress_ips=$(tasks producer | while read -r _ task; do
    docker inspect --format '{{range .NetworksAttachments}}{{if eq .Network.Spec.Name "ingress"}}{{range .Addresses}}{{.}}{{end}}{{end}}{{end}}' "$task" | cut -d/ -f1
  done | sort | paste -sd ' ')
  ipvs_ips=$(node_ipvs "${manager##*-}" | sed -n 's/^ *-> \([0-9.]*\):.*/\1/p' | sort | paste -sd ' ')
  [ -n "$ipvs_ips" ] || fail "ipvsadm in $manager's ingress_sbox lists no replica"
  [ "$ipvs_ips" = "$ingress_ips" ] ||
    fail "ipvsadm in ingress_sbox lists '$ipvs_ips', the replicas' ingress addresses are '$ingress_ips'"
  pass "IPVS in use: ipvsadm in $manager's ingress_sbox balances over the $nodes replicas' ingress addresses ($ipvs_ips)"

  # curl any node: every node answers on the published port, also with replicas on other nodes.
  for host in $hosts; do
    addr=$(docker node inspect --format '{{.Status.Addr}}' "$host")
    served=$(for _ in 1 2 3 4 5 6; do
      curl -fsS -m 5 -D- -o /dev/null "http://$addr:${PRODUCER_PORT:-5000}/number" | tr -d '\r' | sed -n 's/^X-Served-By: //Ip'
    done | sort -u)
    [ -n "$served" ] || fail "curl http://$addr:${PRODUCER_PORT:-5000}/number ($host): no answer"
    grep -vq "^$host-" <<<"$served" || fail "curl $host:${PRODUCER_PORT:-5000}: only replicas on $host answered: $served"
    pass "curl http://$addr:${PRODUCER_PORT:-5000}/number ($host) is answered by $(paste -sd ' ' <<<"$served")"
  done
  # `/` through the mesh: the text form names each replica and its CPU, and the live page in
  # Chromium on this host sees replicas on every node. Each curl is a new connection, which the
  # mesh may send to any replica.
  mesh_url=http://$(docker node inspect --format '{{.Status.Addr}}' "$manager"):${PRODUCER_PORT:-5000}/
  whoami=""   # "name arch" of every answer so far
  # Rust's name for each node's CPU, which the text form's Arch: line gives. Looked up here, not
  # in every_arch: inside wait_until, an unknown machine would not stop the script.
  declare -A node_arch
  for host in $hosts; do
    platform=$(node_platform "$host")
    node_arch[$host]=$(platform_info "$platform" arch)
  done
  every_arch() {
    whoami+=$(curl -fsS -m 5 "$mesh_url" | sed -n 's/^Hostname: //p; s/^Arch: //p' | paste -sd ' ')$'\n'
    local host
    for host in $hosts; do
      grep -q "^$host-[^ ]* ${node_arch[$host]}$" <<<"$whoami" || return 1
    done
  }
  wait_until 60 "curl $mesh_url answers from a replica on each node, with its CPU" every_arch
  pass "curl $mesh_url (the text form) through the mesh: $(grep . <<<"$whoami" | sort -u | paste -sd ',' | sed 's/,/, /g')"
  prefixes=()
  for host in $hosts; do prefixes+=("$host-"); done
  page_check "$mesh_url" "${prefixes[@]}" --timeout 90 ${LAB_PAGE_SCREENSHOT:+--screenshot "$LAB_PAGE_SCREENSHOT"}
  poll_url=${mesh_url}number
  poll_through_update "$stack" "$old" "$new" "rolling update to $new polled from this host through the routing mesh ($poll_url)" "$poll_url"
else
  # dnsrr: no routing mesh; the poller asks from inside the overlay network instead.
  poll_url=""
  poll_through_update "$stack" "$old" "$new" "rolling update to $new across the nodes, polled inside the overlay network"
fi

# Drain a worker that runs a producer task but not the consumer, so that the consumer's own view
# is what we watch: it must go on receiving.
drained=""
if [ "$drain" = yes ]; then
  drained=$(producer_nodes | grep -vx -e "$(consumer_node)" -e "$manager" | sed -n 1p) || true
  [ -n "$drained" ] || fail "no worker runs a producer task without the consumer: $(producer_nodes | paste -sd ' ')"
  before=$(received) errors_before=$(errors)
  docker node update --availability drain "$drained" >/dev/null
  moved() {
    local now
    now=$(producer_nodes) && ! grep -qx "$drained" <<<"$now" && [ "$(wc -l <<<"$now")" = "$nodes" ] && converged "$stack"
  }
  wait_until 120 "the producer tasks leave drained $drained" moved
  wait_until 60 "the consumer goes on receiving after the drain" at_least $((before + 4)) received
  [ "$(errors)" -eq "$errors_before" ] || fail "the consumer failed $(($(errors) - errors_before)) polls during the drain: $(logs | grep '^Error' | tail -n 3)"
  pass "drained $drained: its producer task moved to $(producer_nodes | sort -u | paste -sd ' ') and the consumer kept receiving ($(($(received) - before)) numbers, 0 errors)"
  docker node update --availability active "$drained" >/dev/null
fi

# Pull the plug on the other worker, while a poller asks 10 times a second (through the routing
# mesh on the manager, or inside the overlay network). Requests to the dead node's replicas fail
# until the manager marks it Down and takes them out of the balancing; then all succeed again.
victim=$(docker node ls --format '{{.Hostname}}' | grep -vx -e "$manager" ${drained:+-e "$drained"} | sort | tail -n 1)
poller_start "$stack" "$new" "$poll_url"
wait_until 30 "the poller receives numbers" at_least 5 poller_count "Received number: "
answered_before=$(poller_count "Received number: ")
node_kill "${victim##*-}"
node_down() { grep -qx "$victim Down" <<<"$(docker node ls --format '{{.Hostname}} {{.Status}}')"; }
wait_until 90 "the manager marks $victim Down" node_down
restored() {
  placement=$(running_nodes producer | sort | paste -sd ' ') consumer=$(running_nodes consumer)
  [ -n "$consumer" ] && ! grep -qw "$victim" <<<"$placement $consumer" && [ "$(wc -w <<<"$placement")" = "$nodes" ]
}
wait_until 180 "Swarm restores every replica away from $victim" restored
answered_outage=$(($(poller_count "Received number: ") - answered_before))
# From here on every request must succeed: the last 30 polls, all answered.
last_ok() { [ "$(poller_log | tail -n 30 | grep -c '^Received number: ')" = 30 ]; }
wait_until 60 "every poll is answered again after $victim was lost" last_ok
poller_stop
failed=$(poller_count "Error fetching the number: ")
poller_remove
[ "$answered_outage" -gt 0 ] || fail "no request was answered between the loss of $victim and the recovery"
pass "killed $victim: marked Down, and all $nodes replicas run again, on $placement; requests kept succeeding ($answered_outage answered meanwhile, $failed failed before the dead replica left the balancing, then 30 of 30)"
