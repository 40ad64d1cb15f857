"""The image definition: pinned base, only the declared files (lambda_fn.IMAGE_SOURCES), the contract's
handler; and the image-equivalent directory built from the same list (run under the emulator by
tests/integration/test_function_image.py)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path, PurePosixPath

import pytest

from lambda_fn import IMAGE_SOURCES
from model.core import contract
from scripts import REPO_ROOT
from scripts.dev.image_root import copy_function_files

DOCKERFILE = REPO_ROOT / "lambda_fn" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
TASK_ROOT = "${LAMBDA_TASK_ROOT}/"


def dockerfile_instructions() -> list[list[str]]:
    """Every instruction as shell-like words, backslash continuations joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    return [words for line in text.splitlines() if (words := shlex.split(line, comments=True))]


def dockerignore_allows(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    allowed = True
    candidates = [PurePosixPath(path), *PurePosixPath(path).parents[:-1]]
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated, pattern = line.startswith("!"), line.lstrip("!")
        if any(candidate.full_match(pattern) for candidate in candidates):
            allowed = negated
    return allowed


def test_the_base_is_the_official_lambda_python_image_pinned_by_digest() -> None:
    # A literal FROM line (what Dependabot refreshes), named; the build stage starts from it unless the test
    # suite names its stand-in as BASE_IMAGE (an unused stage is never pulled).
    instructions = dockerfile_instructions()
    official, build = [words for words in instructions if words[0] == "FROM"]
    assert re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.13@sha256:[0-9a-f]{64}", official[1])
    assert official[2:] == ["AS", "official"]
    assert build == ["FROM", "${BASE_IMAGE}"]
    assert ["ARG", "BASE_IMAGE=official"] in instructions[: instructions.index(official)]


def test_cmd_names_the_contract_handler() -> None:
    (cmd,) = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD")]
    assert json.loads(cmd.removeprefix("CMD")) == [contract.HANDLER]


def test_the_dockerfile_copies_exactly_the_declared_sources_each_to_the_same_path() -> None:
    copies = [words[1:] for words in dockerfile_instructions() if words[0] == "COPY"]
    into_task_root = [c for c in copies if c[-1].startswith(TASK_ROOT)]
    sources = [source for *sources, _ in into_task_root for source in sources]
    assert sorted(sources) == sorted(IMAGE_SOURCES)
    for *sources, destination in into_task_root:
        for source in sources:
            assert PurePosixPath(source).parent.as_posix() + "/" == destination.removeprefix(TASK_ROOT)
    # The image sets no ENV: a process standing in for it (development server, emulator, benchmark) could
    # not know one, so none may exist.
    assert not [words for words in dockerfile_instructions() if words[0] == "ENV"]


def test_the_image_holds_the_function_the_model_s_core_and_the_artifact_only(
    tmp_path: Path, model_artifact_path: Path
) -> None:
    copy_function_files(tmp_path)
    copied = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    function_modules = {f"lambda_fn/{p.name}" for p in (REPO_ROOT / "lambda_fn").glob("*.py")}
    core_modules = {f"model/core/{p.name}" for p in (REPO_ROOT / "model/core").glob("*.py")}
    assert core_modules >= {
        "model/core/artifact.py",
        "model/core/contract.py",
        "model/core/jsontypes.py",
        "model/core/schemas.py",
        "model/core/prediction.py",
    }
    assert copied == function_modules | core_modules | {"model/__init__.py", "model/artifacts/model.json"}
    assert (tmp_path / "model/artifacts/model.json").read_bytes() == model_artifact_path.read_bytes()


def test_another_artifact_is_baked_in_where_the_image_holds_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a checkout with the function's sources but no default artifact
    checkout = tmp_path / "checkout"
    for source in [*(REPO_ROOT / "lambda_fn").glob("*.py"), REPO_ROOT / "model/__init__.py"]:
        target = checkout / source.relative_to(REPO_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    shutil.copytree(REPO_ROOT / "model/core", checkout / "model/core")
    monkeypatch.setattr("scripts.dev.image_root.REPO_ROOT", checkout)
    chosen = tmp_path / "chosen.json"
    chosen.write_text('{"model_version": "chosen"}')

    # When the image-equivalent directory is built with the chosen artifact
    root = tmp_path / "root"
    copy_function_files(root, artifact=chosen)

    # Then the chosen file sits where the image holds its artifact (${LAMBDA_TASK_ROOT}/model/artifacts/)
    assert (root / "model/artifacts/model.json").read_bytes() == chosen.read_bytes()


def test_dockerignore_lets_through_every_copy_source_and_nothing_else() -> None:
    sources = [
        str(match.relative_to(REPO_ROOT))
        for words in dockerfile_instructions()
        if words[0] == "COPY"
        for pattern in words[1:-1]
        for match in REPO_ROOT.glob(pattern)
    ]
    assert sources
    assert all(dockerignore_allows(s) for s in sources), sources
    for outside in (
        ".venv/lib/python3.13/site-packages/numpy/__init__.py",
        ".git/config",
        "tests/unit/__init__.py",
        "model/train/pipeline.py",
        "model/sdk/cli.py",
        "model/data/diabetes_data_raw.csv.gz",
        "lambda_fn/__pycache__/handler.cpython-313.pyc",
        "lambda_fn/Dockerfile",
        "infra_cdk/app.py",
        "build/image-root/lambda_fn/handler.py",
    ):
        assert not dockerignore_allows(outside), outside
