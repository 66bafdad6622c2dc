#!/usr/bin/env bash
# Builds the image of each program (producer, consumer, autoscaler) of one platform from the
# binaries in dist/<platform>/, without the Dockerfiles' build stage: in two quick builds, what the
# image is (the Dockerfile's first stage, `image`), then that plus the binary.
# Usage: scripts/build-images.sh PLATFORM PREFIX TAG     (e.g. linux-arm-v6 fogdeft latest)
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
[ $# -eq 3 ] || fail "usage: $0 PLATFORM PREFIX TAG"
platform=$1 prefix=$2 tag=$3

# docker build, quietly: only errors, not the legacy builder's notice that it is deprecated.
quiet_build() {
  docker build --quiet "$@" >/dev/null 2> >(grep -v -e DEPRECATED -e buildx -e '^ *$' >&2)
}

for program in "${PROGRAMS[@]}"; do
  [ -x "dist/$platform/$program" ] || fail "dist/$platform/$program is missing: run scripts/cross.sh $platform"
  image="$prefix/$program:$tag"
  quiet_build --file "$(dockerfile "$program")" --target image \
    --build-arg VERSION="$(project_version)" --tag "$image" .
  # The build context is dist/<platform>/ alone: the binary, and nothing to compile it from.
  printf 'FROM %s\nCOPY %s /%s\n' "$image" "$program" "$program" |
    quiet_build --file - --tag "$image" "dist/$platform"
  say "built $image ($(docker image inspect --format '{{.Size}}' "$image") bytes)"
done
