"""The base image the test suite builds lambda_fn/Dockerfile on, where AWS's official one cannot be pulled:
a Debian root (debootstrap) with CPython 3.13, made into the layout of the official image by the recipe in
standin_base/ (its Containerfile says what it provides). Built once per recipe and kept in the engine's
storage; the rootfs tarball is cached in .cache/ too, since debootstrap takes the better part of a minute.

With IMAGE_TEST_BASE=official (set where the official image can be pulled, as on GitHub's runners), the
suite builds on the Dockerfile's own pinned base instead, and none of this runs.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from scripts import REPO_ROOT
from scripts.dev.rie import RIE

RECIPE: Final = Path(__file__).with_name("standin_base")
RUNTIME_CLIENT_LOCK: Final = REPO_ROOT / "requirements-rie.txt"  # awslambdaric, as pinned for the emulator
CACHE: Final = REPO_ROOT / ".cache" / "standin-base"
SUITE: Final = "trixie"  # Debian 13, whose python3 is CPython 3.13: the official image's minor version
MIRROR: Final = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES: Final = "python3,python3-venv,ca-certificates"
HOST_CA_BUNDLE: Final = Path("/etc/ssl/certs/ca-certificates.crt")
# Where a build's pip must reach PyPI (lambda_fn/Dockerfile installs the function's lock).
PIP_MACHINE: Final = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}


def host_platform() -> str:
    """The engine's native platform, which the suite builds for (no emulator of other CPUs here)."""
    return {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}[platform.machine()]


def _run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command[:3])} failed ({result.returncode}): {result.stderr[-3000:]}")
    return result.stdout.strip()


def _recipe_digest() -> str:
    inputs = [*sorted(RECIPE.iterdir()), RUNTIME_CLIENT_LOCK, RIE, Path(__file__)]
    digest = hashlib.sha256(f"{SUITE} {PACKAGES} {platform.machine()}".encode())
    for path in inputs:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _exists(image: str) -> bool:
    return subprocess.run(["podman", "image", "exists", image], check=False).returncode == 0


def _rootfs(key: str) -> Path:
    """A minimal Debian root with CPython 3.13 and venv, as a tarball (debootstrap needs root)."""
    tarball = CACHE / f"rootfs-{SUITE}-{key}.tar"
    if tarball.is_file():
        return tarball
    if os.geteuid() != 0:
        raise RuntimeError("the stand-in base image needs root for debootstrap (or IMAGE_TEST_BASE=official)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        root = Path(work) / "root"
        _run("debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(root), MIRROR)
        for clutter in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
            shutil.rmtree(root / clutter, ignore_errors=True)
        partial = Path(work) / "rootfs.tar"
        _run("tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), ".")
        partial.replace(tarball)  # atomic: an interrupted build never leaves half a tarball in the cache
    return tarball


def standin_base() -> str:
    """The stand-in base image's name in the engine's storage, built if this recipe's is not there yet."""
    key = _recipe_digest()
    image = f"localhost/lambda-python-standin:{key}"
    if _exists(image):
        return image
    rootfs = f"localhost/lambda-standin-rootfs:{key}"
    if not _exists(rootfs):
        _run("podman", "import", "--quiet", str(_rootfs(key)), rootfs)
    with tempfile.TemporaryDirectory() as work:
        context = Path(work)
        shutil.copytree(RECIPE, context, dirs_exist_ok=True)
        shutil.copy2(RIE, context / "aws-lambda-rie")
        shutil.copy2(HOST_CA_BUNDLE, context / "build-ca.crt")
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
        pip += ["--only-binary=:all:", "--python-version", "3.13"]
        pip += ["--platform", PIP_MACHINE[platform.machine()]]
        _run(*pip, "--dest", str(context / "wheels"), "--requirement", str(RUNTIME_CLIENT_LOCK))
        _run(
            "buildah", "bud", "--quiet", "--isolation", "chroot", "--format", "docker",
            "--build-arg", f"ROOTFS={rootfs}", "--tag", image, str(context),
        )  # fmt: skip
    return image
