"""The image's software bill of materials: every Python distribution installed anywhere in the image (the
function's locked dependencies and the base image's runtime alike), read from the archive's own layers,
written as CycloneDX 1.6 JSON next to the digest it describes."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from model.core.contract import SERVICE_NAME
from scripts.release import ReleaseError
from scripts.release.oci_archive import blob, image_manifest


def image_files(archive: Path, suffix: str) -> dict[str, bytes]:
    """{path: content} of the files whose path ends with ``suffix`` in the image's final file system:
    layers applied in order, with their whiteouts (``.wh.NAME`` deletes NAME, ``.wh..wh..opq`` empties a
    directory of what lower layers put there)."""
    found: dict[str, bytes] = {}
    with tarfile.open(archive) as outer:
        _, manifest = image_manifest(outer)
        for layer in manifest["layers"]:
            data = gzip.decompress(blob(outer, layer["digest"]))
            with tarfile.open(fileobj=io.BytesIO(data)) as files:
                for member in files:
                    path = PurePosixPath("/", member.name)
                    if path.name == ".wh..wh..opq":
                        found = {p: c for p, c in found.items() if not p.startswith(f"{path.parent}/")}
                    elif path.name.startswith(".wh."):
                        gone = str(path.with_name(path.name.removeprefix(".wh.")))
                        found = {p: c for p, c in found.items() if p != gone and not p.startswith(gone + "/")}
                    elif member.isfile() and str(path).endswith(suffix):
                        found[str(path)] = files.extractfile(member).read()  # type: ignore[union-attr]
    return found


def write_sbom(archive: Path, destination: Path, digest: str) -> None:
    """Writes the SBOM of the image in ``archive``."""
    bom = Bom()
    image = Component(name=SERVICE_NAME, version=digest, type=ComponentType.CONTAINER, bom_ref=digest)
    bom.metadata.component = image
    for path, metadata in sorted(image_files(archive, ".dist-info/METADATA").items()):
        headers = HeaderParser().parsestr(metadata.decode("utf-8", errors="replace"))
        name, version = headers["Name"], headers["Version"]
        bom.components.add(
            Component(
                name=name,
                version=version,
                type=ComponentType.LIBRARY,
                # The purl spec's PyPI names are PEP 503-normalised (lower case, runs of -_. as one -).
                purl=PackageURL("pypi", name=re.sub(r"[-_.]+", "-", name).lower(), version=version),
                bom_ref=path,
                properties=[Property(name="location", value=str(PurePosixPath(path).parent.parent))],
            )
        )
    bom.register_dependency(image, bom.components)
    text = JsonV1Dot6(bom).output_as_string(indent=1)
    if invalid := JsonStrictValidator(SchemaVersion.V1_6).validate_str(text):
        raise ReleaseError(f"the SBOM is not valid CycloneDX 1.6: {invalid}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(text, encoding="utf-8")
    print(f"sbom: {len(bom.components)} Python distributions of {digest} -> {destination}")
