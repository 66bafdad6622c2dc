#!/usr/bin/env bash
# Publishes the multi-arch images to a real registry (Debian's docker-registry, started here on a
# loopback port with a throwaway storage folder) and checks what a Pi would pull: one tag per
# program with linux/amd64, linux/arm64, linux/arm/v7 and linux/arm/v6 (a Pi Zero or Pi 1), each
# image config naming its platform and each image holding the binary for it.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
require_docker
require_tools "make test-multiarch" docker-registry curl

work=$(mktemp -d /tmp/fogdeft-test-multiarch.XXXXXX)
port=$(free_port)
registry="127.0.0.1:$port/fogdeft-test" tag=multiarch
cat > "$work/config.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: 127.0.0.1:$port
YAML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
cleanup() {
  kill "$registry_pid" 2>/dev/null || true
  remove_images_under "$registry"
  rm -rf "$work"
}
trap cleanup EXIT
wait_until 10 "registry answers on 127.0.0.1:$port" curl -fsS "http://127.0.0.1:$port/v2/"
pass "registry running on 127.0.0.1:$port"

make --no-print-directory images-multiarch REGISTRY="$registry" TAG="$tag" >"$work/publish.log" 2>&1 ||
  { cat "$work/publish.log"; fail "make images-multiarch"; }
pass "make images-multiarch REGISTRY=$registry TAG=$tag"

expected=()
for platform in "${PLATFORMS[@]}"; do expected+=("$(docker_platform "$platform")"); done
# What a Pi's engine does: read the list, pick its platform, read that image's config and layer.
for program in "${PROGRAMS[@]}"; do
  docker manifest inspect --insecure "$registry/$program:$tag" >"$work/list.json"
  python3 - "$work/list.json" "http://127.0.0.1:$port/v2/fogdeft-test/$program" "$program" \
    "${expected[@]}" >"$work/found" <<'PY' || fail "$program: $(cat "$work/found")"
import hashlib, io, json, sys, tarfile, urllib.request
entries = json.load(open(sys.argv[1]))["manifests"]
base, program, expected = sys.argv[2], sys.argv[3], sys.argv[4:]
sums = dict(line.split()[::-1] for line in open("dist/SHA256SUMS"))  # linux-arm-v6/producer -> sha
def get(path, accept):
    request = urllib.request.Request(base + path, headers={"Accept": accept})
    return urllib.request.urlopen(request).read()
found = []
for entry in entries:
    platform = entry["platform"]
    listed = "/".join(filter(None, [platform["os"], platform["architecture"], platform.get("variant")]))
    manifest = json.loads(get("/manifests/" + entry["digest"], entry["mediaType"]))
    config = json.loads(get("/blobs/" + manifest["config"]["digest"], manifest["config"]["mediaType"]))
    actual = "/".join(filter(None, [config["os"], config["architecture"], config.get("variant")]))
    if actual != listed:
        sys.exit(f"list says {listed} but the image config says {actual}")
    # The one layer holds /PROGRAM: it must be the very binary that dist/ has for this platform.
    layer = get("/blobs/" + manifest["layers"][-1]["digest"], manifest["layers"][-1]["mediaType"])
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        binary = tar.extractfile(program).read()
    dist = listed.replace("/", "-") + "/" + program
    if hashlib.sha256(binary).hexdigest() != sums.get(dist):
        sys.exit(f"the {listed} image's /{program} is not dist/{dist}")
    found.append(listed)
if sorted(found) != sorted(expected):
    sys.exit(f"platforms {found}, expected {expected}")
print(", ".join(found))
PY
  pass "$program:$tag lists $(cat "$work/found"); each image config names its platform and holds dist/'s binary for it"
done

# Running the arm64 image needs binfmt_misc with a QEMU handler in the kernel.
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  out=$(docker run --rm --platform linux/arm64 "$registry/consumer:$tag-arm64" --version)
  pass "arm64 image runs under binfmt_misc: $out"
else
  say "NOTE: this engine cannot run arm64 containers (no binfmt_misc qemu-aarch64 handler);"
  say "      the arm64, armv7 and armv6 binaries are run under qemu-user by scripts/test-cross.sh instead"
fi
