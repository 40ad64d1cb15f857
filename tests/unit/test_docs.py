"""The documentation cannot rot: its links resolve, the commands it names exist and start, and the README
opens with exactly the two commands that CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from model.core.artifact import INTERVAL_LEVEL
from scripts import REPO_ROOT

DOCS = sorted([REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PYTHON_MODULE = re.compile(r"python -m ((?:model|scripts|infra_cdk|lambda_fn)(?:\.[a-z_]\w*)+)")
SCRIPT_PATH = re.compile(r"(?<![\w/.])(?:\./)?(scripts/[\w.-]++(?!\*)|\.ci/run)")


def _slug(heading: str) -> str:
    # GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def _mentions(pattern: re.Pattern[str]) -> set[str]:
    return {m.group(1) for doc in DOCS for m in pattern.finditer(doc.read_text(encoding="utf-8"))}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path):
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # external: not checked offline
        path_part, _, anchor = target.partition("#")
        linked = (doc.parent / path_part).resolve() if path_part else doc
        assert linked.exists(), f"{doc.name}: broken link {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{doc.name}: no heading for #{anchor} in {linked.name}"


def test_every_script_the_docs_name_exists():
    missing = sorted(p for p in _mentions(SCRIPT_PATH) if not (REPO_ROOT / p).exists())
    assert not missing, f"docs name scripts that do not exist: {missing}"


def test_readme_opens_with_exactly_the_two_commands_and_ci_runs_the_second():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```sh\n(.*?)```", readme, flags=re.DOTALL)
    assert first_block is not None
    assert readme.index(first_block.group(0)) < readme.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["./scripts/serve", "./scripts/test"]
    assert "exec ./scripts/test" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")


REPO_PATH = re.compile(r"(?<![\w/.-])((?:model|lambda_fn|infra_cdk|scripts|tests|docs)/[\w/.-]*\w)")
# Where prose states the interval's level: "90% prediction interval", "the 90% interval", '"level": 0.9'.
STATED_LEVEL = re.compile(r"(\d+)% (?:prediction |conformal )?interval|\"level\": ([0-9.]+)")


@pytest.mark.parametrize(
    "doc", [*DOCS, REPO_ROOT / "CHANGELOG.md", REPO_ROOT / "SECURITY.md"], ids=lambda p: p.name
)
def test_every_repository_path_the_docs_name_exists(doc: Path):
    missing = [p for p in REPO_PATH.findall(doc.read_text(encoding="utf-8")) if not (REPO_ROOT / p).exists()]
    assert not missing


def test_the_docs_state_the_interval_level_of_its_one_constant():
    stated = [
        (doc.name, m.group(0))
        for doc in [*DOCS, REPO_ROOT / "CHANGELOG.md"]
        if doc.name != "model_card.md"  # generated from the constant
        for m in STATED_LEVEL.finditer(doc.read_text(encoding="utf-8"))
        if (float(m.group(1)) / 100 if m.group(1) else float(m.group(2))) != INTERVAL_LEVEL
    ]
    assert not stated  # change these with INTERVAL_LEVEL (docs/changing.md)
