#!/usr/bin/env bash
# The drills of drills/README.md: break the swarm on purpose, watch what Swarm does, and count.
#   drills/drills.sh leader|quorum|recover|partition|restart|release
# Each drill prints what happened, with times and the count of failed requests, and fails (exit
# 1) when Swarm does worse than the drill's bound. It works on stack STACK (fogdeft) of a swarm
# with three managers:
#   - the swarm lab (make swarm-lab-up LAB_NODES=5 LAB_MANAGERS=3): the drill pulls the plugs
#     and cables itself;
#   - your Pis: ENGINES lists one Docker endpoint per node (ENGINES="ssh://pi@pi1 ssh://pi@pi2
#     ..."); the drill tells you what to unplug, and when, and watches what follows.
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/../vm/lab.sh"
cd "$(dirname "$0")/.."

drill=${1:-}
case $drill in
  leader | quorum | recover | partition | restart | release) ;;
  *) bad_config "usage: $0 leader|quorum|recover|partition|restart|release" ;;
esac
stack=${STACK:-fogdeft}
state=${TMPDIR:-/tmp}/fogdeft-drill-$stack   # what the quorum drill saw, for the recovery

# ---------------------------------------------------------------------------------------------
# The nodes. Node N is the N-th engine; each drill names nodes by number, and prints hostnames.
if [ -n "${ENGINES:-}" ]; then
  read -r -a engines <<<"$ENGINES"
  on_lab=no
elif [ -e "$LAB_RUN/layout" ]; then
  engines=()
  for node in $(seq "$LAB_NODES"); do engines+=("$(lab_host "$node")"); done
  on_lab=yes
else
  bad_config "no swarm lab runs here: make swarm-lab-up LAB_NODES=5 LAB_MANAGERS=3, or set ENGINES to your nodes' Docker endpoints"
fi
nodes=${#engines[@]}
on() { local node=$1; shift; docker -H "${engines[node - 1]}" "$@"; }
# A question that may hang: a follower forwards it to a leader that may be gone.
ask() { local node=$1; shift; timeout 3 docker -H "${engines[node - 1]}" "$@"; }
answers() { ask "$1" info >/dev/null 2>&1; }
fails() { ! "$@"; }

# Hostname and role of each node, read while all are up and kept in $state.hosts: a dead node
# cannot say, and the recovery starts with two of them dead.
declare -A host_of node_of role_of
if [ "$drill" != recover ]; then
  for node in $(seq "$nodes"); do
    answers "$node" || fail "node $node (${engines[node - 1]}) does not answer: every node must be up before a drill"
    echo "$node $(on "$node" info --format '{{.Name}} {{if .Swarm.ControlAvailable}}manager{{else}}worker{{end}}')"
  done >"$state.hosts"
fi
[ -e "$state.hosts" ] || fail "no quorum drill to recover from (run make drill-quorum first)"
while read -r node host role; do
  host_of[$node]=$host node_of[$host]=$node role_of[$node]=$role
done <"$state.hosts"
managers=() workers=()
for node in $(seq "$nodes"); do
  if [ "${role_of[$node]}" = manager ]; then managers+=("$node"); else workers+=("$node"); fi
done
name() { echo "node $1 (${host_of[$1]})"; }

# The docker CLI against a manager that answers: the drills kill managers, so no one is fixed.
manager() {
  local node
  for node in "${managers[@]}"; do
    if ask "$node" node ls >/dev/null 2>&1; then echo "$node"; return; fi
  done
  return 1
}
swarm() { local node; node=$(manager) || return 1; on "$node" "$@"; }
leader() {
  local node status host
  node=$(manager) || return 1
  status=$(ask "$node" node ls --format '{{.Hostname}} {{.ManagerStatus}}') || return 1
  host=$(awk '$2 == "Leader" {print $1}' <<<"$status")
  [ -n "$host" ] && echo "${node_of[$host]}"
}

# What happens to a node: on the lab the drill does it (vm/swarm-lab-node.sh); on Pis, you do.
act() {
  local action=$1 node=$2
  if [ "$on_lab" = yes ]; then
    vm/swarm-lab-node.sh "$action" "$node" >/dev/null
    return
  fi
  case $action in
    kill)  say "YOUR TURN: pull the power of ${host_of[$node]} (or: sudo systemctl stop docker there)"
           wait_until 600 "${host_of[$node]} off" fails answers "$node" ;;
    start) say "YOUR TURN: power ${host_of[$node]} on again (or: sudo systemctl start docker)"
           wait_until 600 "${host_of[$node]}'s engine answers" answers "$node" ;;
    cut)   say "YOUR TURN: unplug ${host_of[$node]}'s network cable" ;;
    heal)  say "YOUR TURN: plug ${host_of[$node]}'s network cable back in" ;;
  esac
}
# On Pis a person acts, so the drill waits longer for what follows.
human=1
[ "$on_lab" = yes ] || human=5

# Time, in seconds with one decimal, since a mark.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
# within BOUND SECONDS WHAT: the drill's bound on a time it measured.
within() { awk -v b="$1" -v s="$2" 'BEGIN {exit !(s <= b)}' || fail "$3 took ${2}s, more than the bound of ${1}s"; }

# ---------------------------------------------------------------------------------------------
# The stack, and the pollers: on every node, a client that asks 10 times a second, through the
# routing mesh on that node's published port where there is one, else by the service's name
# inside the overlay network (SWARM_NET=dnsrr).
service() { echo "${stack}_$1"; }
spec_of() { swarm service inspect --format "$2" "$(service "$1")"; }
replicas() { spec_of producer '{{.Spec.Mode.Replicated.Replicas}}'; }
running() {
  swarm service ps "$(service "$1")" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' |
    awk '$2 == "Running" {print $1}'
}
# Producer containers that run, counted on every node's own engine: after a partition heals, a
# node may still run a task that the managers have replaced (a duplicate) until it hears so.
containers() {
  local node total=0
  for node in $(seq "$nodes"); do
    answers "$node" || continue
    total=$((total + $(on "$node" ps -q --filter "label=com.docker.swarm.service.name=$(service producer)" | wc -l)))
  done
  echo "$total"
}
stack_converged() { [ "$(running producer | wc -l)" = "$(replicas)" ] && [ "$(running consumer | wc -l)" = 1 ]; }

# A worker that runs a producer replica, better one without the consumer, so that the stack's own
# consumer listens on; prints nothing when no worker runs one.
worker_with_producer() {
  local producers consumer node chosen=""
  producers=$(running producer) consumer=$(running consumer)
  for node in "${workers[@]}"; do
    grep -qx "${host_of[$node]}" <<<"$producers" || continue
    [ -n "$chosen" ] || chosen=$node
    [ "$consumer" = "${host_of[$node]}" ] || { echo "$node"; return; }
  done
  echo "$chosen"
}

# Conditions for wait_until.
leader_is_not() { local node; node=$(leader) && [ "$node" != "$1" ]; }
# A change that does no harm if it is made: a label on the producer service.
probe_change() { on "$1" service update --detach --label-add "drill.quorum=$(date +%s)" "$(service producer)" >/dev/null; }
# A change refused with Swarm's own error. Before it, while the last manager still believes it
# leads, a change only waits until its deadline passes.
refuses() {
  local said
  ! said=$(probe_change "$1" 2>&1) && grep -q "does not have a leader" <<<"$said"
}
count_managers() { local status; status=$(swarm node ls --format '{{.ManagerStatus}}'); grep -cE '^(Leader|Reachable)$' <<<"$status"; }
count_ready() { local status; status=$(swarm node ls --format '{{.Status}}'); grep -c '^Ready$' <<<"$status"; }
replicas_away_from() {
  local placed
  placed=$(running producer)
  ! grep -qx "${host_of[$1]}" <<<"$placed" && [ "$(wc -l <<<"$placed")" = "$(replicas)" ]
}
heard_since() {
  local logs
  # Docker gives what it has and exits 1 while the logs of a replaced node's tasks are missing.
  logs=$(swarm service logs --raw --since "$1" "$(service consumer)" 2>/dev/null) || true
  grep -c '^Received number: ' <<<"$logs"
}
# The producer tasks that Swarm has shut down: "ID NAME HOST" each.
shut_down_tasks() { swarm service ps "$(service producer)" --filter desired-state=shutdown --format '{{.ID}} {{.Name}} {{.Node}}'; }
# Prints "HOST CONTAINER" of a replica 1 that Docker found unhealthy and Swarm stopped, not one of
# the tasks in $1, once the stack runs in full again. Swarm itself shows such a task as Complete:
# the producer exits 0 on the SIGTERM that stops it, so its container's health tells.
sick_replaced() {
  local old=$1 tasks task name host container
  tasks=$(shut_down_tasks) || return 1
  while read -r task name host; do
    { [ "${name##*.}" = 1 ] && [ -n "${node_of[$host]:-}" ] && ! grep -q "$task" <<<"$old"; } || continue
    container=$(swarm inspect --format '{{.Status.ContainerStatus.ContainerID}}' "$task") || continue
    [ "$(on "${node_of[$host]}" inspect --format '{{.State.Health.Status}}' "$container" 2>/dev/null)" = unhealthy ] || continue
    stack_converged && echo "$host ${container:0:12}" && return 0
  done <<<"$tasks"
  return 1
}

pollers=()
pollers_start() {
  local node image url mesh
  image=$(spec_of consumer '{{.Spec.TaskTemplate.ContainerSpec.Image}}')
  image=${image%@*}
  mesh=$(spec_of producer '{{.Spec.EndpointSpec.Mode}}')
  for node in "$@"; do
    url=http://producer:5000/number
    [ "$mesh" = dnsrr ] || url=http://$(on "$node" info --format '{{.Swarm.NodeAddr}}'):${PRODUCER_PORT:-5000}/number
    on "$node" rm -f drill-poller >/dev/null 2>&1 || true
    on "$node" run -d --name drill-poller --network "${stack}_numbers" "$image" \
      --url "$url" --interval 100ms --timeout "${REQUEST_TIMEOUT:-1s}" >/dev/null
    pollers+=("$node")
  done
  for node in "$@"; do wait_until 30 "the poller on $(name "$node") receives numbers" at_least 3 answered "$node"; done
}
poll_log() { on "$1" logs drill-poller 2>&1; }
answered() { poll_log "$1" | grep -c '^Received number: ' || true; }
failed() { poll_log "$1" | grep -c '^Error fetching the number: ' || true; }
# Polls on the surviving nodes: "ANSWERED FAILED".
poll_counts() {
  local node ok=0 bad=0
  for node in "${pollers[@]}"; do
    answers "$node" || continue
    ok=$((ok + $(answered "$node"))) bad=$((bad + $(failed "$node")))
  done
  echo "$ok $bad"
}
# The failed polls, "NODE TIME ERROR" each.
poll_errors() {
  local node
  for node in "${pollers[@]}"; do
    ! answers "$node" || on "$node" logs --timestamps drill-poller 2>&1 | sed -n "s/^\([^ ]*\) Error fetching the number: /$node \1 /p"
  done
}
# Every surviving poller's last 30 polls were answered.
all_answer() {
  local node last
  for node in "${pollers[@]}"; do
    answers "$node" || continue
    last=$(on "$node" logs --tail 30 drill-poller 2>&1)
    [ "$(grep -c '^Received number: ' <<<"$last")" = 30 ] || return 1
  done
}
pollers_remove() {
  local node
  for node in "${pollers[@]}"; do ! answers "$node" || on "$node" rm -f drill-poller >/dev/null 2>&1 || true; done
  pollers=()
}
trap pollers_remove EXIT

# Polls of the surviving nodes: "N answered, M failed".
polls() { local counts; counts=$(poll_counts); echo "${counts% *} answered, ${counts#* } failed"; }
no_failed_polls() {
  local counts errors
  counts=$(poll_counts)
  [ "${counts#* }" != 0 ] || return 0
  errors=$(poll_errors)
  fail "$1: ${counts#* } polls failed (of $((${counts% *} + ${counts#* }))): $(head -n 3 <<<"$errors" | paste -sd ';')"
}

others() { local node; for node in $(seq "$nodes"); do [[ " $* " == *" $node "* ]] || echo "$node"; done; }
node_status() { swarm node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | awk -v h="${host_of[$1]}" '$1 == h {print $2, $3}'; }
is_down() { [ "$(node_status "$1" | cut -d' ' -f1)" = Down ]; }
is_ready() { [ "$(node_status "$1" | cut -d' ' -f1)" = Ready ]; }
is_reachable() { grep -qE '^Ready (Reachable|Leader)$' <<<"$(node_status "$1")"; }

[ "${#managers[@]}" -ge 3 ] || [ "$drill" = recover ] ||
  fail "the drills need 3 managers, this swarm has ${#managers[@]}: make swarm-lab-up LAB_NODES=5 LAB_MANAGERS=3, or docker node promote"
services=$(swarm stack services "$stack" --format '{{.Name}}' 2>/dev/null) || services=""
[ -n "$services" ] || [ "$drill" = recover ] || fail "no stack $stack on this swarm: make swarm-deploy first"

# ---------------------------------------------------------------------------------------------
# 1. The leader lost: the managers elect another, the services answer on, management works
# again, and the old leader rejoins as a manager when it comes back.
drill_leader() {
  local old new t0 elected replaced managed rejoined n
  old=$(leader) || fail "this swarm has no leader to lose"
  say "the leader is $(name "$old"); its engine dies now"
  # shellcheck disable=SC2046 # one node a word
  pollers_start $(others "$old")
  t0=$(now)
  act kill "$old"
  wait_until $((60 * human)) "a new leader" leader_is_not "$old"
  elected=$(since "$t0")
  new=$(leader)
  say "$(name "$new") leads after ${elected}s"
  # The dead node's replicas leave the balancing once it is Down; then every poll is answered.
  wait_until 120 "every poll on the other nodes is answered again" all_answer
  replaced=$(since "$t0")
  # Management works again: a scale and an update of the producer, each committed by the new leader.
  t0=$(now)
  n=$(replicas)
  swarm service scale --detach=false "$(service producer)=$((n + 1))" >/dev/null || fail "scaling after the election"
  swarm service update --detach=false --label-add "drill.leader=$(date +%s)" "$(service producer)" >/dev/null ||
    fail "updating a service after the election"
  swarm service scale --detach=false "$(service producer)=$n" >/dev/null || fail "scaling back after the election"
  managed=$(since "$t0")
  t0=$(now)
  act start "$old"
  wait_until $((90 * human)) "$(name "$old") back as a manager (Reachable)" is_reachable "$old"
  rejoined=$(since "$t0")
  within 60 "$elected" "electing a new leader"
  pass "leader lost: $(name "$new") elected after ${elected}s; every poll answered again ${replaced}s after the loss ($(polls)); a scale up, an update and a scale down took ${managed}s; $(name "$old") back as a manager ${rejoined}s after its power"
}

# 2. Quorum lost: two of the three managers go. The workers and the last manager serve on, but
# nothing can change the cluster: Swarm says so. `drills.sh recover` brings management back.
drill_quorum() {
  local survivor victims=() t0 refused refused_after before after
  survivor=$(leader) || fail "this swarm has no leader"
  for node in "${managers[@]}"; do [ "$node" = "$survivor" ] || victims+=("$node"); done
  victims=("${victims[@]:0:2}")
  # What the stack is now, for the recovery to compare with.
  swarm service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}} {{.Image}}' | sort >"$state.services"
  echo "$survivor ${victims[*]}" >"$state.nodes"
  say "two managers die: $(name "${victims[0]}") and $(name "${victims[1]}"); $(name "$survivor") is left"
  # shellcheck disable=SC2046 # one node a word
  pollers_start $(others "${victims[@]}")
  t0=$(now)
  act kill "${victims[0]}"
  act kill "${victims[1]}"
  wait_until $((120 * human)) "$(name "$survivor") refuses changes: the swarm does not have a leader" refuses "$survivor"
  refused_after=$(since "$t0")
  refused=$(probe_change "$survivor" 2>&1) && fail "a change was made without a quorum"
  say "a change without a quorum: $(head -n 1 <<<"$refused")"
  # The data plane serves on: every surviving poller hears numbers for the next 5 s.
  before=$(poll_counts)
  sleep 5
  after=$(poll_counts)
  [ "${after% *}" -gt "${before% *}" ] || fail "no poll was answered without a quorum"
  pass "quorum lost: from ${refused_after}s on, management refuses (\"$(grep -o 'The swarm does not have a leader[^.]*' <<<"$refused")\"), the data plane serves on ($(polls)); recover with: make drill-recover"
}

# Management back without a quorum: the last manager starts a new cluster of one from its own
# state (--force-new-cluster), and the lost managers, back on, leave their old cluster and join
# this one. Nothing of the stack is lost: it lives in the state that the survivor kept.
drill_recover() {
  local survivor victims t0 node token old_ids
  [ -e "$state.nodes" ] || fail "no quorum drill to recover from (run make drill-quorum first)"
  read -r survivor victims <"$state.nodes"
  t0=$(now)
  on "$survivor" swarm init --force-new-cluster --advertise-addr "$(on "$survivor" info --format '{{.Swarm.NodeAddr}}')" >/dev/null
  wait_until 60 "the new cluster answers on $(name "$survivor")" on "$survivor" node ls
  say "$(name "$survivor") runs a new cluster of one manager after $(since "$t0")s"
  # shellcheck disable=SC2086 # one node a word
  for node in $victims; do act start "$node"; done
  token=$(on "$survivor" swarm join-token -q manager)
  for node in $victims; do
    wait_until $((90 * human)) "$(name "$node")'s engine answers" answers "$node"
    # Its old cluster is gone: it leaves it, and its old entry goes, before it joins again.
    on "$node" swarm leave --force >/dev/null 2>&1 || true
    old_ids=$(on "$survivor" node ls --format '{{.ID}} {{.Hostname}}' | awk -v h="${host_of[$node]}" '$2 == h {print $1}')
    for id in $old_ids; do
      on "$survivor" node demote "$id" >/dev/null 2>&1 || true
      on "$survivor" node rm --force "$id" >/dev/null
    done
    on "$node" swarm join --token "$token" --advertise-addr "$(on "$node" info --format '{{.Swarm.NodeAddr}}' 2>/dev/null || true)" \
      "$(on "$survivor" info --format '{{.Swarm.NodeAddr}}'):2377" >/dev/null
  done
  wait_until 120 "${#managers[@]} managers again" at_least "${#managers[@]}" count_managers
  wait_until 120 "every node Ready" at_least "$nodes" count_ready
  wait_until 180 "stack $stack converged" stack_converged
  local now_services
  now_services=$(swarm service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}} {{.Image}}' | sort)
  [ "$now_services" = "$(cat "$state.services")" ] || fail "the stack changed: before $(paste -sd ' ' "$state.services"), after $(paste -sd ' ' <<<"$now_services")"
  rm -f "$state.services" "$state.nodes" "$state.hosts"
  local took
  took=$(since "$t0")
  within 240 "$took" "recovering management"
  pass "management recovered in ${took}s: --force-new-cluster on $(name "$survivor"), ${#managers[@]} managers again, every node Ready, the stack as it was ($(paste -sd ',' <<<"$now_services" | sed 's/,/, /g')) with all its replicas"
}

# 3. A worker cut off: its tasks are started elsewhere; when the cable is back, the replicas it
# kept running are stopped (no duplicates), but Swarm does not move any back to it.
drill_partition() {
  local victim t0 down moved healed converged n
  victim=$(worker_with_producer)
  if [ -z "$victim" ]; then
    # The replicas all ended up on managers (Swarm never moves them back by itself): spread them.
    say "no worker runs a producer replica: docker service update --force $(service producer) spreads them"
    swarm service update --detach=false --force "$(service producer)" >/dev/null
    victim=$(worker_with_producer)
    [ -n "$victim" ] || fail "no worker runs a producer replica, even after spreading them"
  fi
  n=$(replicas)
  say "$(name "$victim")'s cable is pulled; it runs $(running producer | grep -cx "${host_of[$victim]}") of $n producer replicas"
  # shellcheck disable=SC2046 # one node a word
  pollers_start $(others "$victim")
  t0=$(now)
  act cut "$victim"
  wait_until $((60 * human)) "the managers mark $(name "$victim") Down" is_down "$victim"
  down=$(since "$t0")
  wait_until 120 "its replicas started elsewhere" replicas_away_from "$victim"
  moved=$(since "$t0")
  wait_until 60 "every poll on the other nodes is answered again" all_answer
  act heal "$victim"
  t0=$(now)
  wait_until $((60 * human)) "$(name "$victim") Ready again" is_ready "$victim"
  healed=$(since "$t0")
  wait_until 120 "no duplicate replicas once the cable is back: $n producer containers in all" prints "$n" containers
  converged=$(since "$t0")
  within 60 "$converged" "converging after the partition healed"
  pass "partition: $(name "$victim") Down after ${down}s, its replicas running elsewhere after ${moved}s ($(polls)); cable back: Ready after ${healed}s, $n producer containers and no duplicate after ${converged}s"
  say "Swarm does not move replicas back to $(name "$victim") ($(running producer | grep -cx "${host_of[$victim]}") run there now); to spread them again: docker service update --force $(service producer)"
}

# 4. The whole cluster loses power, as Pis on one power strip do, and comes back by itself.
drill_restart() {
  local node t0 first all
  say "every node loses power"
  for node in $(seq "$nodes"); do act kill "$node"; done
  t0=$(now)
  for node in $(seq "$nodes"); do act start "$node"; done
  local since_ts
  since_ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  wait_until $((180 * human)) "the consumer hears a number again" at_least 1 heard_since "$since_ts"
  first=$(since "$t0")
  wait_until $((240 * human)) "stack $stack converged" stack_converged
  all=$(since "$t0")
  within 120 "$first" "the first number after the power came back"
  within 180 "$all" "all replicas after the power came back"
  pass "power cut of all $nodes nodes: the first number ${first}s after the power came back, all $(replicas) producer replicas and the consumer after ${all}s"
}

# 5. A bad release. First one that never turns healthy: with failure_action: rollback, Swarm
# rolls it back by itself, and with order: start-first the old replicas serve all along. Then one
# replica turns sick while it runs: Swarm replaces it, and no request goes astray.
drill_release() {
  local t0 took state_now env sick
  # shellcheck disable=SC2046 # one node a word
  pollers_start $(seq "$nodes")
  say "release 1: a producer that is never healthy (FAULT_UNHEALTHY_AFTER=0s)"
  t0=$(now)
  swarm service update --detach --env-add FAULT_UNHEALTHY_AFTER=0s "$(service producer)" >/dev/null
  wait_until 300 "Swarm rolls the release back" prints rollback_completed spec_of producer '{{.UpdateStatus.State}}'
  took=$(since "$t0")
  env=$(spec_of producer '{{.Spec.TaskTemplate.ContainerSpec.Env}}')
  [[ $env != *FAULT_UNHEALTHY_AFTER* ]] || fail "after the rollback the producer still has $env"
  wait_until 120 "stack $stack converged" stack_converged
  no_failed_polls "the bad release"
  within 180 "$took" "rolling back the bad release"
  pass "bad release rolled back by Swarm after ${took}s: $(spec_of producer '{{.UpdateStatus.Message}}'); $(polls)"

  say "release 2: replica 1 turns unhealthy 40 s after it starts; the others stay well"
  local before
  before=$(shut_down_tasks)
  t0=$(now)
  swarm service update --detach=false --env-add 'FAULT_UNHEALTHY_AFTER={{if eq .Task.Slot "1"}}40s{{end}}' "$(service producer)" >/dev/null ||
    fail "the update with a late-failing replica 1"
  say "release 2 rolled out in $(since "$t0")s"
  wait_until 180 "Swarm replaces replica 1 once it is unhealthy" sick_replaced "$before"
  sick=$(sick_replaced "$before")
  took=$(since "$t0")
  state_now=$(polls)
  no_failed_polls "replacing the unhealthy replica"
  pass "replica 1 turned unhealthy (container ${sick#* } on ${sick% *}) and Swarm replaced it, ${took}s after release 2 began (40 s, then three failed checks 5 s apart); 0 requests failed ($state_now)"
  # Back to the release before the drill (a rolling update of its own, polled too).
  swarm service update --detach=false --env-rm FAULT_UNHEALTHY_AFTER "$(service producer)" >/dev/null
  wait_until 120 "stack $stack converged" stack_converged
  no_failed_polls "returning to the good release"
}

"drill_$drill"
