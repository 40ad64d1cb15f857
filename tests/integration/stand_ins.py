"""Stand-in executables: a Python script put first on PATH under a real tool's name (docker, skopeo, npx),
for tests of the scripts that call those tools."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path


def install_fake_tool(bin_dir: Path, name: str, python_source: str) -> Path:
    """Puts an executable `name` written in Python in `bin_dir` (put it on PATH with :func:`path_with`)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f"#!{sys.executable}\n{python_source}", encoding="utf-8")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


def path_with(bin_dir: Path) -> str:
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
