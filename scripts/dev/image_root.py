"""Builds the function's "image-equivalent" directory: what ``${LAMBDA_TASK_ROOT}`` holds in the image.

There is no Docker engine here, so the image's content is reproduced instead of built:

1. the runtime dependencies: exactly ``lambda_fn/requirements.txt``, hash-checked, installed with
   ``pip install --require-hashes --only-binary=:all: --target`` as the Dockerfile does;
2. the code and the artifact: every ``COPY`` of ``lambda_fn/Dockerfile`` whose destination is under
   ``${LAMBDA_TASK_ROOT}`` is replayed (sources and globs relative to the repository root), so the
   Dockerfile stays the single source of truth for what the image contains.

The image's ``ENV`` settings are available from :func:`dockerfile_env`, for the process that stands in
for the container.

The Lambda base image also carries the runtime interface client (``awslambdaric``) in its own
site-packages. :func:`build_runtime_dir` reproduces that: it copies the installed distributions of
``awslambdaric`` and its dependencies out of the current environment into a separate directory, so that a
process can run with ``PYTHONPATH=<image root>:<runtime dir>`` and nothing else, as in the image.

Dependencies are installed for the host's platform (x86_64 here; the image is built for arm64): the lock
holds the hashes of both, and the pure-Python code is identical.

API (used by the integration test, the function benchmark and the local development server)::

    from scripts.dev.image_root import build_image_root, build_runtime_dir

    root = build_image_root(Path("build/image-root"))  # -> the directory, ready to import from
    other = build_image_root(Path("build/other"), artifact=Path("seed-1.json"))  # another artifact baked in
    runtime = build_runtime_dir(Path("build/lambda-runtime"))

CLI::

    python -m scripts.dev.image_root build/image-root [--runtime-dir build/lambda-runtime] [--artifact X.json]

The dependency install is cached under ``.cache/image-deps/<sha256 of the lock>`` (a rebuild of the
directory then takes well under a second); ``--no-cache`` forces a fresh install.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from model.artifact import DEFAULT_ARTIFACT_PATH
from scripts import REPO_ROOT

DOCKERFILE: Final = REPO_ROOT / "lambda_fn" / "Dockerfile"
REQUIREMENTS: Final = REPO_ROOT / "lambda_fn" / "requirements.txt"
DEPS_CACHE: Final = REPO_ROOT / ".cache" / "image-deps"
TASK_ROOT_VARIABLE: Final = "${LAMBDA_TASK_ROOT}"
# Where the image holds the trained artifact, relative to the task root: the function's default location.
ARTIFACT_IN_IMAGE: Final = DEFAULT_ARTIFACT_PATH.relative_to(REPO_ROOT).as_posix()
# What the official base image provides next to the task root (its runtime interface client).
RUNTIME_DISTRIBUTIONS: Final = ("awslambdaric", "simplejson", "snapshot-restore-py")


@dataclass(frozen=True, slots=True)
class Copy:
    """One ``COPY src... dest`` of the Dockerfile whose destination is inside the task root."""

    sources: tuple[str, ...]
    destination: str  # relative to the task root; a trailing "/" means "into this directory"


def dockerfile_copies(dockerfile: Path = DOCKERFILE) -> list[Copy]:
    """The Dockerfile's ``COPY`` instructions into ``${LAMBDA_TASK_ROOT}`` (build inputs copied elsewhere,
    such as the lock file copied to /tmp for pip, are not part of the image and are skipped)."""
    copies = []
    for words in dockerfile_instructions(dockerfile):
        if words[0].upper() != "COPY":
            continue
        if any(w.startswith("--") for w in words[1:]):
            raise ValueError(f"COPY flags are not supported by the image-root builder: {' '.join(words)!r}")
        *sources, destination = words[1:]
        for variable in (TASK_ROOT_VARIABLE, "$LAMBDA_TASK_ROOT"):
            if destination.startswith(variable):
                relative = destination.removeprefix(variable).lstrip("/")
                copies.append(Copy(sources=tuple(sources), destination=relative))
                break
    if not copies:
        raise ValueError(f"{dockerfile} has no COPY into {TASK_ROOT_VARIABLE}")
    return copies


def dockerfile_instructions(dockerfile: Path = DOCKERFILE) -> list[list[str]]:
    """Every instruction as shell-like words, comments dropped and backslash continuations joined."""
    text = dockerfile.read_text(encoding="utf-8")
    kept = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    joined = re.sub(r"\\\n", " ", kept)
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


def dockerfile_env(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """The image's ``ENV KEY=value`` settings: a process standing in for the container must set them."""
    env = {}
    for words in dockerfile_instructions(dockerfile):
        if words[0].upper() == "ENV":
            for assignment in words[1:]:
                key, separator, value = assignment.partition("=")
                if not separator:
                    raise ValueError(f"use the ENV KEY=value form: {' '.join(words)!r}")
                env[key] = value
    return env


def build_image_root(dest: Path, *, use_cache: bool = True, artifact: Path | None = None) -> Path:
    """Creates ``dest`` (replacing it) with the dependencies, code and artifact the image holds; with
    ``artifact``, the image as built with that artifact instead of the default one (see
    :func:`copy_function_files`)."""
    if dest.exists():
        shutil.rmtree(dest)
    deps = installed_dependencies(use_cache=use_cache)
    shutil.copytree(deps, dest, symlinks=True)
    copy_function_files(dest, artifact=artifact)
    return dest


def copy_function_files(dest: Path, *, artifact: Path | None = None) -> list[Path]:
    """Replays the Dockerfile's COPY instructions into ``dest``; returns the files written (relative).

    ``artifact`` replaces the source of the COPY to :data:`ARTIFACT_IN_IMAGE`, which is what building the
    image with another model means; the default artifact then need not exist.
    """
    if artifact is not None and not artifact.is_file():
        raise FileNotFoundError(f"model artifact {artifact} does not exist")
    before = {p for p in dest.rglob("*") if p.is_file()} if dest.exists() else set()
    baked = False
    for copy in dockerfile_copies():
        if artifact is not None and copy.destination == ARTIFACT_IN_IMAGE:
            target = dest / ARTIFACT_IN_IMAGE
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(artifact, target)
            baked = True
        else:
            _replay(copy, dest)
    if artifact is not None and not baked:
        raise ValueError(f"{DOCKERFILE} has no COPY to {TASK_ROOT_VARIABLE}/{ARTIFACT_IN_IMAGE}")
    return sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file() and p not in before)


def build_runtime_dir(dest: Path) -> Path:
    """Creates ``dest`` with the runtime interface client the base image ships (copied, not downloaded,
    from this environment's installed distributions, so it is the version the test suite pins)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in RUNTIME_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for file in distribution.files or ():
            source = Path(str(distribution.locate_file(file)))
            if file.parts[0] in {"..", "/"} or not source.is_file() or "__pycache__" in file.parts:
                continue  # console scripts live outside site-packages; bytecode is rebuilt on import
            target = dest / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def installed_size_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


def installed_dependencies(*, use_cache: bool) -> Path:
    lock = REQUIREMENTS.read_bytes()
    cached = DEPS_CACHE / hashlib.sha256(lock).hexdigest()[:16]
    if use_cache and cached.is_dir():
        return cached
    staging = Path(tempfile.mkdtemp(prefix="image-deps-", dir=_ensure(DEPS_CACHE)))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--require-hashes",
            "--only-binary=:all:",
            "--target",
            str(staging),
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    if cached.exists():  # --no-cache: replace the previous install
        shutil.rmtree(cached)
    try:
        staging.rename(cached)  # atomic: an interrupted build never leaves a half-filled cache
    except OSError:
        if not cached.is_dir():
            raise
        shutil.rmtree(staging)  # a concurrent build of the same lock finished first: use its install
    return cached


def _replay(copy: Copy, root: Path) -> None:
    sources = [match for pattern in copy.sources for match in _expand(pattern)]
    into_directory = copy.destination.endswith("/") or len(sources) > 1
    for source in sources:
        target = root / copy.destination / source.name if into_directory else root / copy.destination
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)


def _expand(pattern: str) -> list[Path]:
    matches = sorted(REPO_ROOT.glob(pattern)) if any(c in pattern for c in "*?[") else [REPO_ROOT / pattern]
    missing = [m for m in matches if not m.exists()]
    if not matches or missing:
        raise FileNotFoundError(f"COPY source {pattern!r} matches nothing in {REPO_ROOT}")
    return matches


def _ensure(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="directory to create (replaced if it exists)")
    parser.add_argument("--runtime-dir", type=Path, help="also create the runtime-client directory here")
    parser.add_argument("--no-cache", action="store_true", help="reinstall the dependencies")
    parser.add_argument("--artifact", type=Path, help="bake this model artifact in instead of the default")
    args = parser.parse_args(argv)
    root = build_image_root(args.dest, use_cache=not args.no_cache, artifact=args.artifact)
    print(f"image root: {root} ({installed_size_bytes(root) / 1e6:.1f} MB)")
    if args.runtime_dir:
        print(f"runtime client: {build_runtime_dir(args.runtime_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
