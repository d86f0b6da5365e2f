"""`presence-bot serve` refuses bad configuration and busy ports with one clear line, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.procs import ROOT


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("GRAPH_", "PRESENCE_BOT_", "DATABASE_URL"))
    }
    environment.update({"PRESENCE_BOT_DATA_DIR": str(tmp_path / "data"), "PRESENCE_BOT_LOG_LEVEL": "WARNING"})
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", *args],
        cwd=tmp_path,  # no developer .env
        env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(tmp_path, "--port", str(port))
    assert result.returncode == 1
    assert f"could not listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PRESENCE_BOT_MAX_HOLD", "banana", "PRESENCE_BOT_MAX_HOLD"),
        ("PRESENCE_BOT_DEFAULT_TIMEZONE", "Mars/Base", "unknown IANA time zone 'Mars/Base'"),
        ("PRESENCE_BOT_NOTICES_PER_SECOND", "0", "PRESENCE_BOT_NOTICES_PER_SECOND"),
        ("PRESENCE_BOT_AUDIT_DAYS", "0", "PRESENCE_BOT_AUDIT_DAYS must be between 1 and 3650"),
        ("PRESENCE_BOT_AUDIT_DAYS", "forever", "PRESENCE_BOT_AUDIT_DAYS"),
        ("PRESENCE_BOT_LOG_FORMAT", "xml", "PRESENCE_BOT_LOG_FORMAT"),
        ("PRESENCE_BOT_LOG_LEVEL", "LOUD", "PRESENCE_BOT_LOG_LEVEL must be DEBUG"),
    ],
)
def test_bad_configuration_names_the_variable(tmp_path: Path, variable: str, value: str, says: str) -> None:
    result = serve(tmp_path, "--port", "0", **{variable: value})
    assert result.returncode == 2
    assert "configuration error" in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://someone@127.0.0.1/db", "unsupported database 'mysql'"),
        ("postgresql+asyncpg://nobody@127.0.0.1:1/x", "could not start Presence Bot"),
    ],
)
def test_an_unusable_database_is_one_clear_line(tmp_path: Path, url: str, says: str) -> None:
    result = serve(tmp_path, "--port", "0", DATABASE_URL=url)
    assert result.returncode == 1
    assert says in result.stderr
    assert "Traceback" not in result.stderr
