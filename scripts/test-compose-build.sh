#!/usr/bin/env bash
# The tutorial's own command in a fresh clone, as a new user runs it: `docker compose up --build`
# with no dist/ and no target/, so the images compile their programs in the Dockerfiles' build
# stage. The official Rust image cannot be pulled here: a stand-in made on this machine
# (scripts/rust-builder-image.sh, kept between runs) is passed as RUST_IMAGE in the clone's .env.
# Then: numbers in the consumer's log; images FROM scratch (one layer: the binary), at most 1 MiB,
# non-root, for this machine's platform; a one-line change rebuilds our programs but none of the
# crates they depend on; and docker-compose v1 with the legacy builder builds them too.
#
# This machine has no Compose v2. `docker compose` here is a Docker CLI plugin that runs
# docker-compose v1 the way v2 builds: through the Docker CLI, with BuildKit (so TARGETARCH and
# TARGETVARIANT come from BuildKit, and only the stages the image needs are built).
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
repo=$PWD
require_docker
require_tools "make test-compose-build" git docker-compose debootstrap rustup file

# A Docker CLI that builds with BuildKit: one with buildx, or one from before Docker 23, whose
# BuildKit client is built in (Debian 12's docker.io). Prints its path.
buildkit_cli() {
  local cli version
  for cli in $(type -ap docker); do
    if "$cli" buildx version >/dev/null 2>&1; then echo "$cli"; return; fi
    version=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null) || continue
    if [ "${version%%.*}" -lt 23 ]; then echo "$cli"; return; fi
  done
}
cli=$(buildkit_cli)
[ -n "$cli" ] || skip_or_fail "make test-compose-build needs a Docker CLI that builds with BuildKit: buildx (Docker CE has it), or Debian 12's docker.io"

builder=$(scripts/rust-builder-image.sh)
# BuildKit's cache entries: those that this run adds are removed at the end. (Not the shared
# ones, the engine's own images seen by BuildKit: the stand-in, which is kept.)
build_cache() {
  DOCKER_BUILDKIT=1 "$cli" system df -v --format '{{range .BuildCache}}{{if eq .Shared "false"}}{{println .ID}}{{end}}{{end}}' | sort
}
cache_before=$(build_cache)
pass "stand-in for the official Rust image: $builder (scripts/rust-builder-image.sh remove removes it)"

work=$(mktemp -d /tmp/fogdeft-test-compose-build.XXXXXX)
project=fogdeft-test-compose-build registry=fogdeft-test-build
# The shim: `docker compose ARGS` runs `docker-compose ARGS` with BuildKit, through $cli.
mkdir -p "$work/docker/cli-plugins" "$work/bin"
ln -s "$cli" "$work/bin/docker"
cat >"$work/docker/cli-plugins/docker-compose" <<SHIM
#!/bin/sh
if [ "\$1" = docker-cli-plugin-metadata ]; then
  echo '{"SchemaVersion": "0.1.0", "Vendor": "FogDEFT tests", "Version": "v1 with BuildKit"}'
  exit 0
fi
shift
COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 PATH="$work/bin:\$PATH" exec $(command -v docker-compose) "\$@"
SHIM
chmod +x "$work/docker/cli-plugins/docker-compose"

# A fresh clone of the commit checked out here (what is not committed is not tested).
git clone --quiet --no-local . "$work/clone"
git -C "$work/clone" checkout --quiet "$(git rev-parse HEAD)"
[ -z "$(git status --porcelain --untracked-files=no)" ] || say "NOTE: uncommitted changes here are not in the clone"
cd "$work/clone"
if [ -e dist ] || [ -e target ]; then fail "the clone has dist/ or target/"; fi
cat >.env <<ENV
COMPOSE_PROJECT_NAME=$project
RUST_IMAGE=$builder
REGISTRY=$registry
TAG=build
PRODUCER_PORT=$(free_port)
ENV
# Compose takes a variable from the environment before .env, and `make` exports REGISTRY and TAG:
# the clone's .env decides here, as in a new user's shell.
# shellcheck disable=SC2046 # one name per word
unset $(cut -d= -f1 .env)

images() { printf '%s\n' "$registry/producer:build" "$registry/consumer:build"; }
cleanup() {
  cd "$repo"
  if [ -d "$work/clone" ]; then
    (cd "$work/clone" && docker-compose down --volumes --remove-orphans >/dev/null 2>&1) || true
  fi
  # The images, and what their builds left: intermediate images and BuildKit's cache entries
  # (an entry goes only once every entry made from it has gone: a chain takes a round per link).
  images | xargs -r docker rmi >/dev/null 2>&1 || true
  scripts/rust-builder-image.sh remove-builds
  local id round left
  for round in $(seq 20); do
    left=$(comm -13 <(echo "$cache_before") <(build_cache))
    [ -n "$left" ] || break
    for id in $left; do
      DOCKER_BUILDKIT=1 "$cli" builder prune --force --filter "id=$id" >/dev/null 2>&1 || true
    done
  done
  [ -z "$left" ] || say "WARNING: $round rounds left BuildKit cache entries: $(paste -sd' ' <<<"$left")" >&2
  rm -rf "$work"
}
trap cleanup EXIT

compose_up() {
  local log=$1 started=$SECONDS
  shift
  "$@" >"$log" 2>&1 || { tail -n 40 "$log"; fail "$* (log above)"; }
  say "$* took $((SECONDS - started)) s"
}
received() { docker logs "$(docker-compose ps -q consumer)" 2>&1 | grep -c '^Received number: ' || true; }
# compiled LOG: the crates that a build compiled, as its log names them.
compiled() { sed -n 's/.*Compiling \([^ ]*\) v.*/\1/p' "$1" | sort -u | paste -sd' '; }

say "docker compose up --build -d, in a fresh clone (no dist/, no target/), RUST_IMAGE=$builder"
DOCKER_CONFIG=$work/docker compose_up "$work/up.log" docker compose up --build -d
[ -n "$(comm -13 <(echo "$cache_before") <(build_cache))" ] || fail "BuildKit's cache lists nothing of this build: the cleanup would miss it"
# Our binaries are reproducible: where an image in this engine (`make images` of the same commit)
# holds the very layer that this build makes, BuildKit takes the whole build from its cache.
crates=$(compiled "$work/up.log")
if [ -n "$crates" ]; then
  [[ " $crates " == *" fogdeft-numbers "* ]] || fail "the build compiled $crates, but not our package"
  say "the build compiled $(wc -w <<<"$crates") crates: $crates"
else
  say "the build came whole from BuildKit's cache (an image here holds the same binaries)"
fi
wait_until 60 "a number in the consumer's log" at_least 1 received
pass "docker compose up --build: the consumer logs $(docker logs "$(docker-compose ps -q consumer)" 2>&1 | grep '^Received' | sed -n 1p)"

# The images: FROM scratch (one layer, and the image is exactly as large as its binary: nothing
# else is in it), at most 1 MiB, non-root, and for this machine's platform (Docker's word for it,
# and the binary's machine).
host=$(host_platform)
platform=$(docker_platform "$host") machine=$(platform_info "$host" file)
for image in $(images); do
  program=$(basename "${image%:*}")
  read -r layers size user os arch variant < <(docker image inspect \
    --format '{{len .RootFS.Layers}} {{.Size}} {{.Config.User}} {{.Os}} {{.Architecture}} {{.Variant}}' "$image")
  container=$(docker create "$image")
  docker cp "$container:/$program" "$work/$program" && docker rm "$container" >/dev/null
  binary=$(stat -c %s "$work/$program") description=$(file -b "$work/$program")
  { [ "$layers" = 1 ] && [ "$size" = "$binary" ]; } || fail "$image has $layers layers, $size bytes, and its /$program $binary bytes"
  [[ $description == *static* && $description == *"$machine"* ]] || fail "$image: /$program is $description"
  [ "$size" -le 1048576 ] || fail "$image is $size bytes, more than 1 MiB"
  [ "$user" = 65534:65534 ] || fail "$image runs as user '$user'"
  [ "$os/$arch${variant:+/$variant}" = "$platform" ] || fail "$image is for $os/$arch${variant:+/$variant}, not $platform"
  pass "$image: FROM scratch (one layer: /$program, static $machine), $size bytes, user $user, $platform"
done

# A one-line change (new each run, so that no cache has it): the crates we depend on come from
# the cached layer; only our package is compiled again. (If the build above came from the cache
# whole, that layer may be missing: a first change builds it.)
one_line_change() {
  echo "// A one-line change, made by make test-compose-build at $(date +%s%N)." >>producer.rs
  say "docker compose up --build -d, after a one-line change to producer.rs"
  DOCKER_CONFIG=$work/docker compose_up "$work/rebuild.log" docker compose up --build -d
}
[ -n "$crates" ] || one_line_change
one_line_change
crates=$(compiled "$work/rebuild.log")
[ "$crates" = fogdeft-numbers ] || fail "after a one-line change the build compiled: ${crates:-nothing}"
wait_until 60 "a number in the rebuilt consumer's log" at_least 1 received
pass "after a one-line change only our package was compiled again (Compiling: $crates), and numbers flow"

say "docker-compose up --build -d: Compose v1 with the legacy builder, no BuildKit"
docker-compose down >/dev/null 2>&1
images | xargs -r docker rmi >/dev/null
compose_up "$work/legacy.log" env DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0 docker-compose up --build -d
wait_until 60 "a number in the consumer's log (legacy builder)" at_least 1 received
arch=$(docker image inspect --format '{{.Os}}/{{.Architecture}}' "$registry/producer:build")
[ "$arch" = "${platform%/v*}" ] || fail "the legacy builder made an image for $arch, on $platform"
pass "docker-compose up --build (legacy builder): numbers flow, images for $arch"

docker-compose down >/dev/null 2>&1
left=$(docker ps -a --filter "label=com.docker.compose.project=$project" --quiet; docker network ls --quiet --filter "name=${project}_")
[ -z "$left" ] || fail "docker-compose down left: $left"
pass "docker-compose down removed the containers and the network"
