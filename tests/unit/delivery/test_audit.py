"""The vulnerability audit's wiring: which pinned sets it reads and how, the exceptions file's format, and
its decision over the reports pip-audit and npm audit write. The vulnerability databases are out of reach
here (pip-audit finds no package on PyPI's JSON API, npm's bulk advisory endpoint answers 405), so the
audit runs for real only to show that it fails closed; on GitHub it runs in Checks."""

from __future__ import annotations

import datetime
import subprocess

import pytest

from scripts import REPO_ROOT
from scripts.release import ReleaseError, audit

TODAY = datetime.date(2026, 12, 6)
PIP_REPORT = {  # pip-audit 2.x, --format json
    "dependencies": [
        {"name": "Jinja2", "version": "3.1.2", "vulns": [
            {"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"], "fix_versions": ["3.1.3"]}
        ]},
        {"name": "idna", "version": "3.10", "vulns": []},
        {"name": "local-thing", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    ],
    "fixes": [],
}  # fmt: skip
NPM_REPORT = {  # npm audit --json, report version 2
    "auditReportVersion": 2,
    "vulnerabilities": {
        "brace-expansion": {
            "name": "brace-expansion",
            "via": [
                {
                    "source": 1105443,
                    "url": "https://github.com/advisories/GHSA-v6h2-p8h4-qcjw",
                    "range": "<2.0.2",
                }
            ],
        },
        "minimatch": {
            "name": "minimatch",
            "via": ["brace-expansion"],
        },  # through another package: no advisory
    },
}


def accepted(**overrides: object) -> str:
    entry = {"id": '"GHSA-h5c8-rqwp-cp95"', "package": '"jinja2"', "expires": "2027-01-31"}
    entry["reason"] = '"templates are our own, never user input: the sandbox escape cannot be reached"'
    entry |= {key: str(value) for key, value in overrides.items()}
    return "[[exception]]\n" + "".join(f"{key} = {value}\n" for key, value in entry.items())


def test_every_pinned_set_is_audited_or_excluded_with_a_reason():
    files = {p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.glob("requirements*.txt")}
    files.add("lambda_fn/requirements.txt")
    assert files == set(audit.LOCKED) | set(audit.RESOLVED) | set(audit.NOT_AUDITED)


def test_the_committed_exceptions_file_is_well_formed():
    exceptions, problems = audit.read_exceptions(audit.EXCEPTIONS, TODAY)
    assert problems == []
    assert all(e.expires >= TODAY for e in exceptions)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (accepted(expires="2026-12-05"), "GHSA-h5c8-rqwp-cp95 (jinja2) expired on 2026-12-05"),
        (accepted(reason='"ok"'), "the reason must say why"),
        (accepted(id='"JINJA-1"'), "is not a GHSA, PYSEC, CVE or OSV id"),
        (accepted(expires='"soon"'), "expires must be a date"),
        ("[[exception]]\nid = 'GHSA-h5c8-rqwp-cp95'\n", "needs exactly id, package, reason, expires"),
        ("[[exception]\n", "audit-exceptions.toml"),
    ],
)
def test_a_malformed_or_expired_exception_is_a_problem(tmp_path, text, problem):
    (tmp_path / "audit-exceptions.toml").write_text(text)
    exceptions, problems = audit.read_exceptions(tmp_path / "audit-exceptions.toml", TODAY)
    assert exceptions == []
    assert len(problems) == 1
    assert problem in problems[0]


def test_findings_are_read_from_both_reports_and_a_skipped_package_is_a_problem():
    pip = list(audit.pip_findings("requirements.txt", PIP_REPORT))
    npm = list(audit.npm_findings("package-lock.json", NPM_REPORT))
    (jinja,) = [f for f in pip if isinstance(f, audit.Finding)]
    assert (jinja.package, jinja.ids, jinja.fix) == (
        "jinja2",
        frozenset({"GHSA-h5c8-rqwp-cp95", "CVE-2024-22195"}),
        "3.1.3",
    )
    (skipped,) = [p for p in pip if isinstance(p, str)]
    assert skipped.startswith("requirements.txt: local-thing could not be audited (Dependency not found")
    assert npm == [
        audit.Finding(
            "package-lock.json",
            "brace-expansion",
            "<2.0.2",
            frozenset({"GHSA-v6h2-p8h4-qcjw"}),
            "see npm audit",
        )
    ]
    (failed,) = audit.npm_findings("package-lock.json", {"error": {"code": "E405"}})
    assert str(failed).startswith("package-lock.json: npm audit gave no report")


def test_only_an_exception_for_that_advisory_in_that_package_explains_a_finding(tmp_path):
    (jinja,) = [f for f in audit.pip_findings("r.txt", PIP_REPORT) if isinstance(f, audit.Finding)]
    for text, explained in [
        (accepted(), True),
        (accepted(id='"CVE-2024-22195"'), True),  # an alias names the same advisory
        (accepted(package='"markupsafe"'), False),
        (accepted(id='"GHSA-aaaa-bbbb-cccc"'), False),
    ]:
        (tmp_path / "e.toml").write_text(text)
        exceptions, _ = audit.read_exceptions(tmp_path / "e.toml", TODAY)
        assert (audit.unexplained([jinja], exceptions) == []) is explained, text


def test_the_audit_fails_closed_when_the_vulnerability_databases_cannot_be_reached(monkeypatch, capsys):
    # The real pip-audit on the function's lock and the real npm audit, with both databases made unreachable
    # (a dead proxy, a dead registry): neither answer may pass. (The resolved sets are left out: resolving
    # them takes minutes.)
    monkeypatch.setattr(audit, "RESOLVED", ())
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    with pytest.raises(ReleaseError, match=r"problem\(s\)"):
        audit.main([])
    out = capsys.readouterr().out
    assert "PROBLEM lambda_fn/requirements.txt: " in out
    assert "PROBLEM package-lock.json: " in out


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        (
            ["pip-audit", "--help"],
            ["--format", "--progress-spinner", "--requirement", "--require-hashes", "--disable-pip"],
        ),
        (["npm", "audit", "--help"], ["--json", "--package-lock-only"]),
    ],
)
def test_every_flag_the_audit_passes_exists_in_the_pinned_tools(command, flags):
    shown = subprocess.run(command, capture_output=True, text=True, check=False)
    assert all(flag in shown.stdout + shown.stderr for flag in flags)
