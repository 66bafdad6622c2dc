#!/usr/bin/env bash
# End-to-end test of the Pi path on the VM lab: three QEMU machines (amd64, arm64, armv7) with
# Debian's kernel and docker.io, a registry on this host, `make images-multiarch` and
# `make swarm-deploy` as a user runs them, in Swarm's default VIP mode with the routing mesh.
# Then the scenario shared with the network-namespace lab (lab-scenario.sh), and the memory test
# on node 1, a cgroup v2 engine (memory-budget.sh). The lab is removed at the end, whatever
# happens; the guest images stay cached.
. "$(dirname "$0")/../scripts/lib.sh"
. "$(dirname "$0")/vm-lab.sh"
. "$(dirname "$0")/../scripts/memory-budget.sh"
cd "$(dirname "$0")/.."
require_lab "VM lab" vm_missing vm_lab_in_use

started=$SECONDS
# The drain step is left to the namespace lab: under emulation it costs about 40 s, and shows
# nothing that the node loss does not.
export STACK=fogdeft-vm-test
stack=$STACK nodes=$VM_NODES old=vm1 new=vm2
export VM_REGISTRY_PORT
VM_REGISTRY_PORT=$(free_port)
push=127.0.0.1:$VM_REGISTRY_PORT/$stack   # this host's name for the registry
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -n "${DOCKER_HOST:-}" ]; then
    echo "--- the nodes, the stack's services, its tasks and what ended them:" >&2
    docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}' >&2 || true
    docker stack services "$stack" --format '{{.Name}} {{.Replicas}}' >&2 || true
    docker service ps "${stack}_producer" "${stack}_consumer" --no-trunc \
      --format '{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}' >&2 || true
    # Why each ended container stopped: its exit code and its last health checks.
    for node in $(seq "$nodes"); do
      for id in $(vm_docker "$node" ps -aq --filter status=exited --filter "label=com.docker.stack.namespace=$stack" 2>/dev/null); do
        vm_docker "$node" inspect --format "$(vm_name "$node") {{.Name}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}}{{with .State.Health}} health={{.Status}}:{{range .Log}} [{{.ExitCode}} {{.Output}}]{{end}}{{end}}" "$id" >&2 || true
      done
    done
    docker service inspect --format '{{.Spec.Name}} update: {{json .UpdateStatus}}' "${stack}_producer" >&2 || true
  fi
  [ -z "${DOCKER_HOST:-}" ] || memory_budget_cleanup
  unset DOCKER_HOST
  vm/vm-lab-down.sh >/dev/null || echo "FAIL: make vm-lab-down" >&2
  remove_images_under "$push"
}
trap cleanup EXIT

# The binaries first, so that compiling does not starve the emulated machines later.
stack_make cross >/dev/null 2>&1 || fail "make cross"
stack_make vm-lab-up >/tmp/fogdeft-vm-up.log 2>&1 || { tail -n 30 /tmp/fogdeft-vm-up.log; fail "make vm-lab-up"; }
built=$(grep -c '^==> building the .* guest image' /tmp/fogdeft-vm-up.log || true)
cache="warm cache"
[ "$built" -eq 0 ] || cache="$built of 3 guest images built"
rm -f /tmp/fogdeft-vm-up.log
pass "make vm-lab-up: $nodes virtual machines in a swarm after $((SECONDS - started)) s ($cache; the cache holds $(du -sh "$VM_CACHE" | cut -f1))"

# Each node is the machine it claims to be: its kernel's architecture, and Debian's docker.io.
expected=(x86_64 aarch64 armv7l)
for node in $(seq "$nodes"); do
  arch=$(vm_docker "$node" info --format '{{.Architecture}}')
  [ "$arch" = "${expected[$((node - 1))]}" ] || fail "$(vm_name "$node") runs $arch, expected ${expected[$((node - 1))]}"
  found+=("$(vm_name "$node") $arch")
done
pass "each node runs its own architecture's kernel, with Debian's docker.io $(vm_docker 3 version --format '{{.Server.Version}}'): ${found[*]}"

for tag in "$old" "$new"; do
  stack_make images-multiarch REGISTRY="$push" TAG="$tag" >/tmp/fogdeft-vm-images.log 2>&1 ||
    { tail -n 20 /tmp/fogdeft-vm-images.log; fail "make images-multiarch REGISTRY=$push TAG=$tag"; }
done
rm -f /tmp/fogdeft-vm-images.log
pass "make images-multiarch REGISTRY=$push TAG=$old (and $new): manifest lists in the host's registry"

# From here on, the nodes' view: the manager's engine, the registry's address on the lab network.
# A poll fails after 5 s without an answer, not 1 s as on the namespace lab: these nodes' CPUs
# are emulated in software, tens of times slower than a Pi's, and a busy moment of the machine
# (a task starting during the update) has held one answer over 1 s. A connection sent to a gone
# replica still fails: it never gets an answer.
# On a 2-core machine that emulates three nodes, `docker exec` of a health check has taken over
# 10 s, and Swarm then replaced healthy replicas over and over: the checks get 30 s here. Pulling
# and starting the first tasks has taken over 3 minutes: the deploy may take 10.
export DOCKER_HOST REGISTRY SWARM_NET=vip PRODUCER_REPLICAS=$nodes POLL_INTERVAL=300ms REQUEST_TIMEOUT=5s
export HEALTHCHECK_TIMEOUT=30s DEPLOY_WAIT=600
DOCKER_HOST=$(vm_host 1)
REGISTRY=$(vm_registry)/$stack

vm/lab-scenario.sh vm "$STACK" "$old" "$new" no || fail "Scenario 02 on the VM lab"

# Then the memory test (make test-memory) on a cgroup v2 engine, once the stack is gone: run before
# the scenario, it left the emulated nodes too slow to start the stack's tasks within 3 minutes.
# Node 1 mounts only cgroup2 (vm/guest/boot.sh), as Raspberry Pi OS Bookworm does. The producer just
# published, with Compose's limits; hostile clients from this host over the lab network; the
# cgroup's figures read on the node. Its emulated CPU gets 30 s of load instead of 15, and 2 clients
# at full speed instead of 8: each pipelines as fast as this host sends, and 8 of them swamp the
# emulated node's network stack. Each /healthz may take what the stack's health checks take here
# (HEALTHCHECK_TIMEOUT, 30 s), not 2 s: with 2 such clients, one took 12.6 s in a CI run.
stack_make swarm-rm >/dev/null || fail "make swarm-rm"
started_memory=$SECONDS
cgroup_version=$(docker info --format '{{.CgroupVersion}}')
[ "$cgroup_version" = 2 ] || fail "$(vm_name 1)'s engine uses cgroup v$cgroup_version, not v2"
on_node_1() { vm_exec 1 "$@"; }
memory_budget "$REGISTRY/producer:$old" "$(vm_ip 1)" on_node_1 30 "${HEALTHCHECK_TIMEOUT%s}" 2
pass "the memory test on $(vm_name 1) (cgroup v2) took $((SECONDS - started_memory)) s"

pass "the VM lab test took $((SECONDS - started)) s ($cache)"
