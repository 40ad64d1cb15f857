"""The release's image archive, read without an engine: an OCI layout (``buildah push oci-archive:``) that
must hold exactly what Lambda runs, one Docker v2 image manifest for the function's platform, whose digest
is the one every stage deploys."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any, Final

from infra_cdk.settings import FUNCTION_PLATFORM
from scripts.release import ReleaseError

# What Lambda runs: one image manifest (an index is refused at deployment) of Docker's v2 schema 2.
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _read(archive: tarfile.TarFile, name: str) -> bytes:
    member = next((m for m in archive if m.name.removeprefix("./") == name), None)  # writers differ on ./
    if member is None or (file := archive.extractfile(member)) is None:
        raise ReleaseError(f"the archive has no {name}")
    return file.read()


def blob(archive: tarfile.TarFile, digest: str) -> bytes:
    data = _read(archive, f"blobs/sha256/{digest.removeprefix('sha256:')}")
    if f"sha256:{hashlib.sha256(data).hexdigest()}" != digest:
        raise ReleaseError(f"blob {digest} of the archive does not match its digest")
    return data


def image_manifest(archive: tarfile.TarFile) -> tuple[str, dict[str, Any]]:
    """The digest and content of the archive's one image manifest, after checking it is what Lambda runs."""
    manifests = json.loads(_read(archive, "index.json"))["manifests"]
    if len(manifests) != 1:
        raise ReleaseError(f"it holds {len(manifests)} manifests; a release pushes exactly one image")
    (descriptor,) = manifests
    digest = str(descriptor["digest"])
    manifest = json.loads(blob(archive, digest))
    types = {descriptor.get("mediaType"), manifest.get("mediaType")}
    types |= {manifest["config"].get("mediaType")} | {layer.get("mediaType") for layer in manifest["layers"]}
    if types != {DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER}:
        raise ReleaseError(
            f"its media types are {sorted(map(str, types))}: Lambda needs one Docker v2 image manifest "
            "(build with --format docker, push with --format v2s2)"
        )
    return digest, manifest


def archive_digest(path: Path, platform: str | None = FUNCTION_PLATFORM) -> str:
    """The digest of the one image in an OCI archive, after checking that Lambda can run it (on
    ``platform``, unless None: a digest recorded at build time vouches for the platform checked then)."""
    try:
        with tarfile.open(path) as archive:
            digest, manifest = image_manifest(archive)
            config = json.loads(blob(archive, manifest["config"]["digest"]))
    except ReleaseError as error:
        raise ReleaseError(f"{path}: {error}") from error
    except (OSError, KeyError, TypeError, ValueError, tarfile.TarError) as error:
        raise ReleaseError(f"{path} is not an OCI image archive: {error!r}") from error
    if platform is not None and (built := f"{config.get('os')}/{config.get('architecture')}") != platform:
        raise ReleaseError(f"{path} is an image for {built}, the function runs on {platform}")
    return digest
