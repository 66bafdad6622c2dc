#!/usr/bin/env bash
# Deploys docker-stack.yml as stack STACK and waits until every replica runs.
# Usage: scripts/swarm-deploy.sh STACK   (env: REGISTRY, TAG, SWARM_NET=vip|dnsrr, PRODUCER_REPLICAS)
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || fail "usage: $0 STACK"
stack=$1 net=${SWARM_NET:-vip}
require_manager

files=(--compose-file docker-stack.yml)
case "$net" in
  vip) ;;
  dnsrr)
    # dnsrr cannot use the routing mesh: merge the override and drop the producer's published port.
    merged=$(mktemp)
    trap 'rm -f "$merged"' EXIT
    docker stack config -c docker-stack.yml -c docker-stack.dnsrr.yml |
      awk '/^    ports:/ {skip=1; next} skip && match($0, /[^ ]/) && RSTART <= 5 {skip=0} !skip' >"$merged"
    files=(--compose-file "$merged")
    ;;
  *) fail "SWARM_NET=$net: use vip (default) or dnsrr" ;;
esac

resolve=()
if [[ ${REGISTRY:-fogdeft} != */* ]]; then
  # Local images, no registry: every node must use the image it has. On a real cluster, push
  # multi-arch images first (make images-multiarch) and set REGISTRY.
  for program in producer consumer; do
    docker image inspect "${REGISTRY:-fogdeft}/$program:${TAG:-latest}" >/dev/null 2>&1 ||
      fail "image ${REGISTRY:-fogdeft}/$program:${TAG:-latest} not found here: run 'make images'"
  done
  resolve=(--resolve-image never)
fi

docker stack deploy --prune "${resolve[@]}" "${files[@]}" "$stack" >/dev/null \
  2> >(grep -v -e 'detach=false' >&2)   # newer CLIs nag about a flag older ones lack
say "deployed stack $stack ($net networking, images ${REGISTRY:-fogdeft}/*:${TAG:-latest}); waiting for the replicas"
wait_converged "$stack" 180
docker stack services "$stack" --format '{{.Name}}: {{.Replicas}} replicas of {{.Image}}'
