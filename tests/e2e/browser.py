"""Headless Chromium for the docs test: the machine's own browser, driven by Playwright's Python API.

Found the way scripts/setup installs it ($CHROMIUM, then Debian's chromium, then Chrome); Playwright never
downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
from typing import Final

CANDIDATES: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, sandbox-free (containers), and quiet: no GPU, no background or update traffic, no QUIC.
FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), *CANDIDATES):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None
