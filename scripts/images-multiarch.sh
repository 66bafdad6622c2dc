#!/usr/bin/env bash
# Publishes one tag per program that covers linux/amd64, linux/arm64, linux/arm/v7 and linux/arm/v6.
# Usage: scripts/images-multiarch.sh REGISTRY TAG   (REGISTRY = registry/namespace, e.g. docker.io/you)
#
# No emulation is needed: the binaries are cross-compiled on this machine (scripts/cross.sh), and
# the images only copy them (the Dockerfiles' build stage never runs). With buildx, one
# `buildx build --push` per program does it all.
# Without buildx (Debian's docker.io), each platform gets its own image, pushed as TAG-<arch>, and
# `docker manifest` joins them under TAG.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || fail "usage: $0 REGISTRY TAG"
registry=$1 tag=$2
[[ $registry == */* ]] || fail "REGISTRY=$registry names no registry: use e.g. REGISTRY=docker.io/yourname or REGISTRY=192.168.1.10:5000/fogdeft"

docker_platforms=()
for platform in "${PLATFORMS[@]}"; do docker_platforms+=("$(docker_platform "$platform")"); done
scripts/cross.sh "${PLATFORMS[@]}"

if docker buildx version >/dev/null 2>&1; then
  for program in "${PROGRAMS[@]}"; do
    # The Dockerfile with one more stage, its `image` plus each platform's binary from dist/, and
    # dist/ as the build context. BuildKit builds only the stages that this one needs: never the
    # build stage.
    { cat "$(dockerfile "$program")"
      printf '\nFROM image AS prebuilt\nARG TARGETARCH\nARG TARGETVARIANT\n'
      # shellcheck disable=SC2016 # Dockerfile variables: BuildKit expands them, per platform
      printf 'COPY linux-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}/%s /%s\n' "$program" "$program"
    } | docker buildx build --platform "$(IFS=,; echo "${docker_platforms[*]}")" \
      --build-arg VERSION="$(project_version)" --file - --target prebuilt \
      --tag "$registry/$program:$tag" --push dist
  done
  exit 0
fi

# A registry on this machine speaks plain HTTP; `docker manifest` must be told.
insecure=()
[[ $registry == localhost[:/]* || $registry == 127.* ]] && insecure=(--insecure)

suffixes=()   # one tag per platform: TAG-amd64, TAG-arm64, TAG-armv7, TAG-armv6
for platform in "${PLATFORMS[@]}"; do
  arch=$(platform_arch "$platform") variant=$(platform_variant "$platform")
  suffixes+=("$arch$variant")
  scripts/build-images.sh "$platform" "$registry" "$tag-$arch$variant"
  for program in "${PROGRAMS[@]}"; do
    image="$registry/$program:$tag-$arch$variant"
    # The legacy builder recorded this machine's architecture; record the binary's instead.
    scripts/set-image-platform.py "$image" "$arch" "$variant"
    docker push --quiet "$image" >/dev/null
    say "pushed $image ($(docker_platform "$platform"))"
  done
done

for program in "${PROGRAMS[@]}"; do
  list="$registry/$program:$tag"
  docker manifest rm "$list" >/dev/null 2>&1 || true   # a stale local copy from an earlier run
  docker manifest create "${insecure[@]}" "$list" "${suffixes[@]/#/$list-}" >/dev/null
  docker manifest push --purge "${insecure[@]}" "$list" >/dev/null
  say "pushed $list for ${docker_platforms[*]}"
done
