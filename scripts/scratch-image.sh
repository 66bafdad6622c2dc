#!/usr/bin/env bash
# Packs a program of this machine, with the shared libraries it loads (as ldd lists them), into a
# FROM scratch image. Nothing can be pulled here, so the tests use this to stand in for images such
# as prom/prometheus, from the same program installed by apt (Debian's prometheus, hey).
# Usage: scripts/scratch-image.sh IMAGE PROGRAM [DOCKERFILE-LINE...]
#   e.g. scripts/scratch-image.sh test/prometheus:lab /usr/bin/prometheus 'USER 65534:65534'
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || fail "usage: $0 IMAGE PROGRAM [DOCKERFILE-LINE...]"
image=$1 program=$2
shift 2
[ -x "$program" ] || fail "$program not found"

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/root/bin"
cp "$program" "$context/root/bin/"
# Each library at the path the loader looks for it; none for a static program.
for library in $(ldd "$program" 2>/dev/null | grep -o '/[^ ]*' || true); do
  cp -L --parents "$library" "$context/root/"
done
{
  echo 'FROM scratch'
  echo 'COPY root/ /'
  echo "ENTRYPOINT [\"/bin/$(basename "$program")\"]"
  printf '%s\n' "$@"
} >"$context/Dockerfile"
docker build --quiet --tag "$image" "$context" >/dev/null 2> >(grep -v -e DEPRECATED -e buildx -e '^ *$' >&2)
say "built $image from $program ($(docker image inspect --format '{{.Size}}' "$image") bytes)"
