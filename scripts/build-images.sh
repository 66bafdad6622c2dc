#!/usr/bin/env bash
# Builds the image of each program (producer, consumer, autoscaler) of one platform from the
# binaries in dist/<platform>/.
# Usage: scripts/build-images.sh PLATFORM PREFIX TAG     (e.g. linux-arm-v6 fogdeft latest)
# The legacy builder (no buildx here) knows no platforms, so we pass TARGETARCH and TARGETVARIANT.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || fail "usage: $0 PLATFORM PREFIX TAG"
platform=$1 prefix=$2 tag=$3

for program in "${PROGRAMS[@]}"; do
  [ -x "dist/$platform/$program" ] || fail "dist/$platform/$program is missing: run scripts/cross.sh $platform"
  image="$prefix/$program:$tag"
  docker build --quiet --file "Dockerfile-$program" \
    --build-arg TARGETARCH="$(platform_arch "$platform")" \
    --build-arg TARGETVARIANT="$(platform_variant "$platform")" \
    --build-arg VERSION="$(project_version)" \
    --tag "$image" . >/dev/null 2> >(grep -v -e DEPRECATED -e buildx -e '^ *$' >&2)
  say "built $image ($(docker image inspect --format '{{.Size}}' "$image") bytes)"
done
