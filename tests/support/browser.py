"""Headless Chromium for the tests: Debian's `chromium` (installed here when missing), never a download.

    from tests.support.browser import ensure_chromium

    chromium = ensure_chromium()      # "/usr/bin/chromium", installed with apt-get if need be

The Node scripts drive it with playwright-core (`executablePath`) through `tests/js/chromium.mjs`, which
holds the one set of flags every launch uses: headless, no sandbox (root in containers), no GPU, no QUIC,
none of Chromium's own traffic (first run, background networking, component updates, sync), a fresh
`--user-data-dir` each time, and every request off loopback refused.

- `/usr/bin/chromium` is used when it runs; otherwise, when `apt-get` is there and we are root, Debian's
  `chromium` and two font packages (DejaVu, and Open Sans for a Segoe-like sans) are installed once.
- When it cannot be had the calling test is skipped with the reason, except under CI (`CI=true`),
  where that is an error, as for Node (see tests/support/nodejs.py).

The outcome is cached, so the work (and an apt-get failure) happens at most once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.nodejs import in_ci, installing

CHROMIUM = Path("/usr/bin/chromium")
DEBIAN_PACKAGES = ("chromium", "fonts-dejavu-core", "fonts-open-sans")
INSTALL_TIMEOUT = 900  # seconds, for apt-get update and install each (chromium is ~100 MB)

_outcome: Path | str | None = None  # the browser, or why it cannot be had


def _unavailable(reason: str) -> NoReturn:
    message = f"Chromium unavailable: {reason}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _runs(browser: Path) -> bool:
    if not browser.exists():
        return False
    try:
        out = subprocess.run(
            [str(browser), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "Chromium" in out.stdout


def _missing_packages() -> list[str]:
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return list(DEBIAN_PACKAGES)
    missing = []
    for package in DEBIAN_PACKAGES:
        out = subprocess.run(
            [dpkg, "-W", "-f=${Status}", package], capture_output=True, text=True, timeout=60, check=False
        )
        if "install ok installed" not in out.stdout:
            missing.append(package)
    return missing


def _apt_install(packages: list[str]) -> str | None:
    """Install Debian packages; `None` on success, else why not."""
    apt = shutil.which("apt-get")
    if apt is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install {' '.join(packages)}"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return f"{CHROMIUM} is missing (apt-get install {' '.join(packages)}, or run the tests as root)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        update = subprocess.run(
            [apt, "update", "-qq"], env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
        )
        if update.returncode != 0:
            return f"apt-get update failed:\n{_tail(update.stderr or update.stdout)}"
        install = subprocess.run(
            [apt, "install", "-y", "-qq", "--no-install-recommends", *packages],
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return f"apt-get install {' '.join(packages)} timed out"
    if install.returncode != 0:
        return f"apt-get install {' '.join(packages)} failed:\n{_tail(install.stderr or install.stdout)}"
    return None


def _prepare() -> Path | str:
    missing = _missing_packages()
    problem = _apt_install(missing) if missing else None
    if _runs(CHROMIUM):
        return CHROMIUM  # a font package that would not install is no reason to give up
    return (
        problem or f"{CHROMIUM} --version does not answer, though {' '.join(DEBIAN_PACKAGES)} are installed"
    )


def ensure_chromium() -> Path:
    """Debian's Chromium, installed if missing; skip the test when it cannot be had (fail under CI)."""
    global _outcome
    if _outcome is None:
        with installing():
            _outcome = _prepare()
    if isinstance(_outcome, str):
        _unavailable(_outcome)
    return _outcome
