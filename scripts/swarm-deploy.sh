#!/usr/bin/env bash
# Deploys docker-stack.yml as stack STACK and waits until every replica runs. With AUTOSCALE=1,
# autoscaler/docker-stack.autoscale.yml too: Prometheus and the autoscaler (autoscaler/README.md).
# Usage: scripts/swarm-deploy.sh STACK
#   (env: REGISTRY, TAG, SWARM_NET=vip|dnsrr, PRODUCER_REPLICAS, AUTOSCALE=0|1, and the
#   AUTOSCALE_*, PROMETHEUS_* and DOCKER_SOCKET settings of autoscaler/docker-stack.autoscale.yml)
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || fail "usage: $0 STACK"
stack=$1 net=${SWARM_NET:-vip}
require_manager
memory_limits_warning   # of this engine; on a cluster, `docker info` on each Pi tells its own

# docker-stack.yml comes first: relative paths in every file are taken from its folder.
stacks=(docker-stack.yml) programs=(producer consumer)
if [ "${AUTOSCALE:-0}" = 1 ]; then
  stacks+=(autoscaler/docker-stack.autoscale.yml) programs+=(autoscaler)
  # The autoscaler mounts the manager's Docker socket. A swarm lab node has its own, elsewhere.
  if [[ ${DOCKER_HOST:-} == unix://* ]]; then export DOCKER_SOCKET=${DOCKER_SOCKET:-${DOCKER_HOST#unix://}}; fi
fi
files=()
for stack_file in "${stacks[@]}"; do files+=(--compose-file "$stack_file"); done
case "$net" in
  vip) ;;
  dnsrr)
    # dnsrr cannot use the routing mesh: merge the override and drop the published ports.
    merged=$(mktemp)
    trap 'rm -f "$merged"' EXIT
    docker stack config "${files[@]}" -c docker-stack.dnsrr.yml |
      awk '/^    ports:/ {skip=1; next} skip && match($0, /[^ ]/) && RSTART <= 5 {skip=0} !skip' >"$merged"
    files=(--compose-file "$merged")
    ;;
  *) fail "SWARM_NET=$net: use vip (default) or dnsrr" ;;
esac

resolve=()
if [[ ${REGISTRY:-fogdeft} != */* ]]; then
  # Local images, no registry: every node must use the image it has. On a real cluster, push
  # multi-arch images first (make images-multiarch) and set REGISTRY.
  for program in "${programs[@]}"; do
    docker image inspect "${REGISTRY:-fogdeft}/$program:${TAG:-latest}" >/dev/null 2>&1 ||
      fail "image ${REGISTRY:-fogdeft}/$program:${TAG:-latest} not found here: run 'make images'"
  done
  resolve=(--resolve-image never)
fi

docker stack deploy --prune "${resolve[@]}" "${files[@]}" "$stack" >/dev/null \
  2> >(grep -v -e 'detach=false' >&2)   # newer CLIs nag about a flag older ones lack
say "deployed stack $stack from ${stacks[*]} ($net networking, images ${REGISTRY:-fogdeft}/*:${TAG:-latest}); waiting for the replicas"
# 3 minutes unless DEPLOY_WAIT says otherwise: the VM lab's emulated nodes need longer.
wait_converged "$stack" "${DEPLOY_WAIT:-180}"
docker stack services "$stack" --format '{{.Name}}: {{.Replicas}} replicas of {{.Image}}'
