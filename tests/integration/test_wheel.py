"""The distribution, as a new user gets it: ``pip wheel .`` and ``pip install .`` into a fresh Python venv,
then the console script and the Python API of the installed package, which needs nothing but itself.

Builds go through pip with build isolation, as a user's would (hatchling, and numpy when the tree has no
trained artifact, come from the package index). The clean-tree build copies the files git tracks, so it sees
what a fresh clone sees: no ``model/artifacts/model.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from model.core.serving import load_artifact, parse_artifact
from model.sdk.predictor import Model
from scripts import REPO_ROOT

WHEEL_NAME = "diabetes_progression-1.0.0-py3-none-any.whl"
MAX_WHEEL_BYTES = 110_000  # about 100 kB: the modules, a 7 kB artifact, README.md as METADATA; nothing else
PIP_TIMEOUT_SECONDS = 600


def run(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=PIP_TIMEOUT_SECONDS,
    )


def fresh_venv(path: Path) -> Path:
    """A new venv from the base interpreter, with pip and nothing else: its bin directory."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    result = run(base, "-m", "venv", path)
    assert result.returncode == 0, result.stderr
    return path / "bin"


def clean_environment() -> dict[str, str]:
    """No PYTHONPATH pointing back at the checkout, no AWS configuration of this machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_", "VIRTUAL_ENV"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def tracked_tree(dest: Path) -> Path:
    """The files git tracks or would track (not ignored), as they are in the working tree: what a clone of
    this state, committed, holds."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=REPO_ROOT)
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO_ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, model_artifact_path: Path) -> Path:
    """``pip wheel .`` from this checkout, which has the trained artifact."""
    before = run("git", "status", "--porcelain", "--ignored", cwd=REPO_ROOT).stdout
    out = tmp_path_factory.mktemp("dist")
    result = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    # The build wrote nothing into the checkout (no build/, no *.egg-info)
    assert run("git", "status", "--porcelain", "--ignored", cwd=REPO_ROOT).stdout == before
    return out / WHEEL_NAME


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed (no extra): its bin directory."""
    bin_dir = fresh_venv(tmp_path_factory.mktemp("venv") / "venv")
    result = run(bin_dir / "pip", "install", "--no-index", wheel, env=clean_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    return bin_dir


@pytest.fixture(scope="module")
def local(model_artifact_path: Path) -> Model:
    return Model(load_artifact(model_artifact_path))


def script(installed: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run(installed / "diabetes-progression", *args, cwd=cwd, env=clean_environment())


# --- The wheel --------------------------------------------------------------------------------------------
def test_the_wheel_holds_the_package_and_its_trained_model_only(
    wheel: Path, model_artifact_path: Path
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        bundled = archive.read("diabetes_progression/artifacts/model.json")
        contract = archive.read("diabetes_progression/core/contract.py")
    modules = {
        f"diabetes_progression/{p.relative_to(REPO_ROOT / 'model').as_posix()}"
        for p in (REPO_ROOT / "model").rglob("*.py")
    }
    package = modules | {
        "diabetes_progression/artifacts/model.json",
        "diabetes_progression/py.typed",
        "diabetes_progression/train/card.md",
    }
    metadata = {
        f"diabetes_progression-1.0.0.dist-info/{name}"
        for name in ("METADATA", "WHEEL", "RECORD", "entry_points.txt", "licenses/LICENSE")
    }
    assert names == package | metadata  # no lambda_fn, infra_cdk, scripts, tests, node_modules or data set
    assert bundled == model_artifact_path.read_bytes()
    assert b"GATEWAY_RESPONSES" not in contract  # the service's gateway tables stay with the service


def test_the_wheel_is_small(wheel: Path) -> None:
    assert wheel.stat().st_size < MAX_WHEEL_BYTES


def test_the_wheel_declares_no_dependency_but_its_extras(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("diabetes_progression-1.0.0.dist-info/METADATA").decode()
        entry_points = archive.read("diabetes_progression-1.0.0.dist-info/entry_points.txt").decode()
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requirements
    assert all("; extra ==" in line for line in requirements), requirements
    assert {line.split("extra == ")[1].strip("'\"") for line in requirements} == {"train", "report", "client"}
    assert "Requires-Python: >=3.13" in metadata
    assert "diabetes-progression = diabetes_progression.sdk.cli:main" in entry_points


# --- Installed --------------------------------------------------------------------------------------------
def test_predict_prints_the_prediction(installed: Path, local: Model, tmp_path: Path) -> None:
    result = script(installed, "predict", "27.3", cwd=tmp_path)  # away from the checkout
    assert result.returncode == 0, result.stderr
    assert f"{local.predict(27.3)['prediction']:.2f}" in result.stdout.splitlines()[1]


def test_predict_500_fails_with_the_plausibility_message(installed: Path) -> None:
    result = script(installed, "predict", "500")
    assert result.returncode == 4
    assert result.stderr == "diabetes-progression: error: bmi must be between 10 and 100 kg/m^2\n"


def test_predict_json_is_the_answer_of_the_repository_s_model(installed: Path, local: Model) -> None:
    result = script(installed, "predict", "--json", "27.3", "22", "45.1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == local.predict_batch([27.3, 22, 45.1])


def test_the_python_api_gives_the_same_numbers(installed: Path, local: Model, tmp_path: Path) -> None:
    code = (
        "import json, sys, diabetes_progression as dp;"
        "m = dp.load_model();"
        "print(json.dumps([m.predict(27.3), m.predict_batch([22, 45.1]), m.version]));"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('numpy', 'botocore', 'model')))"
    )
    result = run(installed / "python", "-c", code, cwd=tmp_path, env=clean_environment())
    assert result.returncode == 0, result.stderr
    answers, imported = result.stdout.splitlines()
    assert json.loads(answers) == [local.predict(27.3), local.predict_batch([22, 45.1]), local.version]
    assert imported == "[]"  # standard library only; and no `model` package escapes into site-packages


def test_nothing_else_was_installed(installed: Path) -> None:
    result = run(installed / "pip", "list", "--format", "json", env=clean_environment())
    assert {p["name"] for p in json.loads(result.stdout)} == {"diabetes-progression", "pip"}


def test_call_needs_botocore_only_to_sign_and_says_which_extra(installed: Path) -> None:
    # A loopback URL is the local service: unsigned, no botocore (nothing listens on port 9 here)
    refused = script(installed, "call", "--url", "http://127.0.0.1:9", "--retries", "0", "27.3")
    assert refused.returncode == 1
    assert "127.0.0.1:9/v1/predict" in refused.stderr
    deployed = script(
        installed, "call", "--url", "https://abc.execute-api.eu-west-1.amazonaws.com/staging/", "27"
    )
    assert deployed.returncode == 1
    assert "signing needs botocore: pip install 'diabetes-progression[client]'" in deployed.stderr


def test_train_says_what_it_needs(installed: Path) -> None:
    result = script(installed, "train")
    assert result.returncode == 1
    assert "training needs numpy: pip install 'diabetes-progression[train]'" in result.stderr


def test_train_help_needs_no_numpy_and_writes_outside_the_installed_package(installed: Path) -> None:
    result = script(installed, "train", "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert "(default: model.json)" in " ".join(result.stdout.split())  # the working directory's


def test_help_is_complete(installed: Path) -> None:
    result = script(installed, "--help")
    assert result.returncode == 0
    for command in ("predict", "info", "call", "train"):
        assert f"    {command} " in result.stdout
    assert "exit status:" in result.stdout


# --- From a clean tree ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_pip_install_from_a_fresh_clone_trains_the_model_it_ships(
    tmp_path: Path, model_artifact_path: Path
) -> None:
    clone = tracked_tree(tmp_path / "clone")
    assert not (clone / "model/artifacts/model.json").exists()  # a build output: never committed
    bin_dir = fresh_venv(tmp_path / "venv")
    result = run(bin_dir / "pip", "install", clone, env=clean_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    # The build asked for numpy to train, and trained: the build environment's, not the venv's
    assert "diabetes-progression" in run(bin_dir / "pip", "list", env=clean_environment()).stdout
    assert "numpy" not in run(bin_dir / "pip", "list", env=clean_environment()).stdout
    shipped = bin_dir.parent / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (bundled,) = shipped.glob("site-packages/diabetes_progression/artifacts/model.json")
    trained = parse_artifact(bundled.read_text(encoding="utf-8"))
    assert trained.model_version == load_artifact(model_artifact_path).model_version
    predicted = run(bin_dir / "diabetes-progression", "predict", "27.3", env=clean_environment())
    assert predicted.returncode == 0, predicted.stderr


@pytest.mark.slow
def test_the_source_distribution_holds_what_building_and_training_need(
    tmp_path: Path, model_artifact_path: Path
) -> None:
    out = tmp_path / "sdist"
    result = run(sys.executable, "-m", "build", "--sdist", "--outdir", out, REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    (sdist,) = out.glob("diabetes_progression-1.0.0.tar.gz")
    import tarfile

    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {
        "pyproject.toml",
        "README.md",
        "hatch_build.py",
        "model/artifacts/model.json",
        "model/data/diabetes_data_raw.csv.gz",
        "model/data/diabetes_target.csv.gz",
        "model/train/pipeline.py",
    } <= names
    others = {
        n for n in names if n.startswith(("lambda_fn", "infra_cdk", "scripts", "tests", "node_modules"))
    }
    assert not others
