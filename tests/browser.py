"""Headless Debian Chromium for the browser tests (the service's page, the bulletin), driven by Playwright.

The flags keep Chromium off the network (no background services, no QUIC) and working as root in a sandbox.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

requires_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("chromium") is None,
    reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium; CI installs it)",
)


def launch() -> Iterator:
    """Yield a Playwright browser on Debian's Chromium; closes it afterwards."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
