"""The function's "image-equivalent" directory: what ``${LAMBDA_TASK_ROOT}`` holds in the image, built with no
container engine, from the same declared list as the image (``lambda_fn.IMAGE_SOURCES``) and the same lock
with the same pip flags (as wheels for this host: the lock holds the hashes of both platforms, and the
pure-Python code is identical)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from lambda_fn import IMAGE_SOURCES
from model.core.artifact import DEFAULT_ARTIFACT_PATH
from scripts import REPO_ROOT

REQUIREMENTS: Final = REPO_ROOT / "lambda_fn" / "requirements.txt"
DEPS_CACHE: Final = REPO_ROOT / ".cache" / "image-deps"
# Where the image holds the trained artifact, relative to the task root: the function's default location.
ARTIFACT_IN_IMAGE: Final = DEFAULT_ARTIFACT_PATH.relative_to(REPO_ROOT).as_posix()
# What the official base image provides next to the task root (its runtime interface client).
RUNTIME_DISTRIBUTIONS: Final = ("awslambdaric", "simplejson", "snapshot-restore-py")


def build_image_root(dest: Path, *, artifact: Path | None = None) -> Path:
    """Creates ``dest`` (replacing it) with the dependencies, code and artifact the image holds; with
    ``artifact``, as the image built with that model instead of the default one would hold them."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(installed_dependencies(), dest, symlinks=True)
    copy_function_files(dest, artifact=artifact)
    return dest


def copy_function_files(dest: Path, *, artifact: Path | None = None) -> None:
    """Copies every path of ``IMAGE_SOURCES`` to the same path under ``dest`` (``artifact``, when given, where
    the image holds its own)."""
    for pattern in IMAGE_SOURCES:
        if artifact is not None and pattern == ARTIFACT_IN_IMAGE:
            pairs = [(artifact, Path(pattern))]
        else:
            matches = sorted(REPO_ROOT.glob(pattern))
            if not matches:
                raise FileNotFoundError(f"image source {pattern!r} matches nothing in {REPO_ROOT}")
            pairs = [(match, match.relative_to(REPO_ROOT)) for match in matches]
        for source, relative in pairs:
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def build_runtime_dir(dest: Path) -> Path:
    """Creates ``dest`` with the runtime interface client the base image ships, copied from this environment's
    installed distributions (the version the test suite pins), so a process can import from
    ``<task root>:<runtime dir>`` and nothing else, as in the image."""
    if dest.exists():
        shutil.rmtree(dest)
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or ():
            source = Path(str(distribution.locate_file(file)))
            if file.parts[0] in {"..", "/"} or not source.is_file() or "__pycache__" in file.parts:
                continue  # console scripts live outside site-packages; bytecode is rebuilt on import
            (dest / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / file)
    return dest


def installed_size_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


def installed_dependencies() -> Path:
    """The lock installed as the Dockerfile's ``pip install`` does, cached per lock content."""
    cached = DEPS_CACHE / hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    if cached.is_dir():
        return cached
    DEPS_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="image-deps-", dir=DEPS_CACHE))
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-cache-dir"]
    subprocess.run(
        [*pip, "--require-hashes", "--only-binary=:all:", "--target", str(staging), "-r", str(REQUIREMENTS)],
        check=True,
    )
    try:
        staging.rename(cached)  # atomic: an interrupted build never leaves a half-filled cache
    except OSError:
        if not cached.is_dir():
            raise
        shutil.rmtree(staging)  # a concurrent build of the same lock finished first: use its install
    return cached
