"""Node.js for the tests: find (or install) `node` and `npm`, and the npm packages of tests/js.

    from tests.support.nodejs import ensure_node_packages, run_node

    js_dir = ensure_node_packages()            # tests/js, with node_modules installed from the lock
    result = run_node("validate-manifest.mjs", str(path))

Everything Node-based the tests use (the Teams manifest validator, the card renderer, the Agents
Playground) lives in tests/js with one package.json and one package-lock.json, so there is one install.

- `node`/`npm` are looked up on PATH; when absent and `apt-get` is there (and we are root), Debian's
  `nodejs` and `npm` are installed once.
- `npm ci --no-audit --no-fund` runs when tests/js/node_modules is missing or older than the lock file
  (or package.json).
- When Node or the packages cannot be had, the calling test is skipped with the reason, except under
  CI (`CI=true`), where that is an error: CI must not go green by skipping the checks that need Node.

The outcome is cached, so the work (and an apt-get or npm failure) happens at most once per session.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

JS_DIR = Path(__file__).resolve().parents[1] / "js"
MIN_NODE = (20, 19)  # @microsoft/app-manifest require()s an ES module (strip-bom 5): Node ≥ 20.19
INSTALL_TIMEOUT = 600  # seconds, for apt-get and for npm ci each


@dataclass(frozen=True)
class NodeTools:
    node: str
    npm: str
    js_dir: Path


_outcome: NodeTools | str | None = None  # the tools, or why they cannot be had


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _unavailable(reason: str) -> NoReturn:
    message = f"Node.js test tools unavailable: {reason}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DEBIAN_FRONTEND": "noninteractive",
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
        }
    )
    return env


def _run(command: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=_quiet_env(),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _apt_install_node() -> str | None:
    """Try Debian's nodejs + npm; `None` on success, else why not."""
    apt = shutil.which("apt-get")
    if apt is None:
        return "node/npm are not on PATH and there is no apt-get to install them"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "node/npm are not on PATH (install Node.js ≥ 20.19, or run as root to let apt-get do it)"
    try:
        update = _run([apt, "update", "-qq"])
        if update.returncode != 0:
            return f"apt-get update failed:\n{_tail(update.stderr or update.stdout)}"
        install = _run([apt, "install", "-y", "-qq", "--no-install-recommends", "nodejs", "npm"])
    except subprocess.TimeoutExpired:
        return "apt-get install nodejs npm timed out"
    if install.returncode != 0:
        return f"apt-get install nodejs npm failed:\n{_tail(install.stderr or install.stdout)}"
    return None


def _node_version(node: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.match(r"v(\d+)\.(\d+)", out.stdout.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def _needs_install(js_dir: Path) -> bool:
    # npm writes node_modules/.package-lock.json on every install: its age is the install's age.
    stamp = js_dir / "node_modules" / ".package-lock.json"
    if not stamp.exists():
        return True
    installed = stamp.stat().st_mtime
    sources = [js_dir / "package-lock.json", js_dir / "package.json"]
    return any(source.exists() and source.stat().st_mtime > installed for source in sources)


def _prepare() -> NodeTools | str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        problem = _apt_install_node()
        if problem:
            return problem
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            return "apt-get installed nodejs and npm, but node/npm are still not on PATH"
    version = _node_version(node)
    if version is None:
        return f"{node} --version did not answer"
    if version < MIN_NODE:
        wanted = ".".join(map(str, MIN_NODE))
        return f"{node} is Node {version[0]}.{version[1]}; the tools in tests/js need Node ≥ {wanted}"
    if not (JS_DIR / "package-lock.json").exists():
        return f"{JS_DIR / 'package-lock.json'} is missing"
    if _needs_install(JS_DIR):
        try:
            result = _run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR)
        except subprocess.TimeoutExpired:
            return f"npm ci in {JS_DIR} timed out after {INSTALL_TIMEOUT}s"
        if result.returncode != 0:
            return f"npm ci in {JS_DIR} failed:\n{_tail(result.stderr or result.stdout)}"
        (JS_DIR / "node_modules" / ".package-lock.json").touch()
    return NodeTools(node=node, npm=npm, js_dir=JS_DIR)


@contextmanager
def installing() -> Iterator[None]:
    """Hold the machine-wide lock for installing test tools (apt-get, `npm ci`): the pytest-xdist workers
    of one run (and two runs) install one at a time, and the later ones find the work done."""
    with (Path(tempfile.gettempdir()) / "presence-bot-test-tools.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def node_tools() -> NodeTools:
    """`node`, `npm` and tests/js with its packages installed, or skip (fail under CI=true)."""
    global _outcome
    if _outcome is None:
        with installing():
            _outcome = _prepare()
    if isinstance(_outcome, str):
        _unavailable(_outcome)
    return _outcome


def ensure_node_packages() -> Path:
    """The tests/js folder, with Node available and its npm packages installed (see the module doc)."""
    return node_tools().js_dir


def run_node(
    script: str,
    *args: str,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `node <script> <args…>` in tests/js (packages ensured first); output captured as text."""
    tools = node_tools()
    return subprocess.run(
        [tools.node, script, *args],
        cwd=tools.js_dir,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
