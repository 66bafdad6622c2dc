#!/usr/bin/env python3
"""Rewrites the platform recorded in a local image's config: set-image-platform.py IMAGE ARCH [VARIANT]

Docker's legacy builder (what an engine without buildx has) records the *host's* architecture in
every image it builds, even FROM scratch with an arm64 binary inside. A manifest list built from
such images would send arm64 Pis an "amd64" image. This saves the image, fixes `architecture`
and `variant` in its config, and loads it back under the same tag. The layers are untouched.
"""
import hashlib
import io
import json
import subprocess
import sys
import tarfile


def main(image, arch, variant=""):
    old_id = docker("image", "inspect", "--format", "{{.Id}}", image).strip()
    saved = subprocess.run(["docker", "save", image], check=True, capture_output=True).stdout
    members = {}
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        for member in tar.getmembers():
            members[member.name] = (member, tar.extractfile(member).read() if member.isfile() else None)

    manifest = json.loads(members["manifest.json"][1])
    old_name = manifest[0]["Config"]
    config = json.loads(members[old_name][1])
    config["architecture"] = arch
    config.pop("variant", None)
    if variant:
        config["variant"] = variant
    new_config = json.dumps(config, separators=(",", ":")).encode()
    new_name = hashlib.sha256(new_config).hexdigest() + ".json"
    manifest[0]["Config"] = new_name

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, (member, data) in members.items():
            if name == old_name:
                continue
            if name == "manifest.json":
                data = json.dumps(manifest).encode()
            if data is not None:
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
        info = tarfile.TarInfo(new_name)
        info.size = len(new_config)
        tar.addfile(info, io.BytesIO(new_config))
    subprocess.run(["docker", "load", "--quiet"], input=out.getvalue(), check=True, capture_output=True)
    # The tag now names the fixed image. Remove the old one (and its build steps) unless another
    # tag still uses it; then docker refuses, and that is fine.
    if docker("image", "inspect", "--format", "{{.Id}}", image).strip() != old_id:
        docker("rmi", old_id, check=False)


def docker(*args, check=True):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True).stdout


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.splitlines()[0])
    main(*sys.argv[1:])
