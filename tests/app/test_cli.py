"""`presence-bot serve` refuses bad configuration and busy ports with one clear line, never a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.builders import activity
from tests.support.procs import ROOT


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GRAPH_", "PRESENCE_BOT_", "DATABASE_URL", "Microsoft", "MICROSOFT_"))
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
        (
            "PRESENCE_BOT_DEFAULT_TIMEZONE",
            "Mars/Base",
            "PRESENCE_BOT_DEFAULT_TIMEZONE: unknown IANA time zone 'Mars/Base'",
        ),
        ("PRESENCE_BOT_NOTICES_PER_SECOND", "0", "PRESENCE_BOT_NOTICES_PER_SECOND"),
        ("PRESENCE_BOT_AUDIT_DAYS", "0", "PRESENCE_BOT_AUDIT_DAYS: must be between 1 and 3650"),
        ("PRESENCE_BOT_AUDIT_DAYS", "forever", "PRESENCE_BOT_AUDIT_DAYS"),
        ("PRESENCE_BOT_LOG_FORMAT", "xml", "PRESENCE_BOT_LOG_FORMAT"),
        ("PRESENCE_BOT_LOG_LEVEL", "LOUD", "PRESENCE_BOT_LOG_LEVEL: must be DEBUG"),
        ("PRESENCE_BOT_COLLEAGUES", "maybe", "PRESENCE_BOT_COLLEAGUES: must be on or off"),
        (
            "PRESENCE_BOT_WATCH_INTERVAL",
            "0",
            "PRESENCE_BOT_WATCH_INTERVAL: must be between 1 second and 1 hour",
        ),
        ("PRESENCE_BOT_WATCH_INTERVAL", "soon", "PRESENCE_BOT_WATCH_INTERVAL"),
        ("PRESENCE_BOT_WHO_LIMIT", "0", "PRESENCE_BOT_WHO_LIMIT"),
        ("PRESENCE_BOT_WATCH_CAP", "lots", "PRESENCE_BOT_WATCH_CAP"),
        ("PRESENCE_BOT_WORKDAY_END", "25:00", "PRESENCE_BOT_WORKDAY_END"),
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


# -- start-up modes through the real process -----------------------------------------------------------
APP = "8d3f1c2a-5b6e-4f70-9a81-b2c3d4e5f601"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SECRET = "s3cr3t-value~never-printed"


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, **env: str) -> AsyncIterator[tuple[str, str]]:
    """`presence-bot serve --port 0` with exactly these variables: yields (its mode line, its URL)."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("GRAPH_", "PRESENCE_BOT_", "DATABASE_URL", "Microsoft", "MICROSOFT_", "ALLOWED_")
        )
    }
    environment.update({"PRESENCE_BOT_DATA_DIR": str(tmp_path / "data"), "PRESENCE_BOT_LOG_LEVEL": "WARNING"})
    environment.update(env)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--port",
        "0",
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        async with asyncio.timeout(60):
            mode_line = (await process.stdout.readline()).decode().strip()
            listening = (await process.stdout.readline()).decode().strip()
        assert listening.startswith("Presence Bot is listening on "), (mode_line, listening)
        yield mode_line, listening.removeprefix("Presence Bot is listening on ").removesuffix("/api/messages")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest, errors = await process.communicate()
        assert SECRET not in rest.decode() + errors.decode(), "a secret is never printed"
        assert "Traceback" not in errors.decode()


async def test_serve_says_development_mode_and_serves_the_simulator(tmp_path: Path) -> None:
    async with serving(tmp_path) as (mode_line, url), httpx.AsyncClient(trust_env=False) as http:
        assert mode_line.startswith("Mode: development; Graph: the embedded simulated tenant;")
        assert "inbound requests: NOT authenticated" in mode_line and mode_line.endswith("tenants: any")
        assert url.startswith("http://127.0.0.1:")
        health = (await http.get(f"{url}/healthz")).json()
        assert (health["mode"], health["graph"], health["authenticated"]) == (
            "development",
            "simulator",
            False,
        )
        assert (await http.get(f"{url}/sim/_sim/users")).status_code == 200


async def test_serve_in_production_authenticates_and_has_no_sim_routes(tmp_path: Path) -> None:
    env = {"MicrosoftAppId": APP, "MicrosoftAppPassword": SECRET, "MicrosoftAppTenantId": TENANT_ID}
    async with serving(tmp_path, **env) as (mode_line, url), httpx.AsyncClient(trust_env=False) as http:
        assert mode_line.startswith("Mode: production; Graph: https://graph.microsoft.com/v1.0 (app ")
        assert f"inbound requests: authenticated (SingleTenant app {APP}, client secret)" in mode_line
        assert (await http.get(f"{url}/sim/_sim/users")).status_code == 404, "no /sim at all"
        assert (await http.post(f"{url}/sim/_sim/clock", json={"advance_seconds": 60})).status_code == 404
        body = activity("/busy 30m", service_url="https://smba.trafficmanager.net/emea/")
        assert (await http.post(f"{url}/api/messages", json=body)).status_code == 401, "no token, no turn"
        assert (await http.get(f"{url}/healthz")).json()["mode"] == "production"


async def test_serve_teams_with_a_simulated_graph(tmp_path: Path) -> None:
    env = {
        "MicrosoftAppId": APP,
        "MicrosoftAppPassword": SECRET,
        "MicrosoftAppTenantId": TENANT_ID,
        "PRESENCE_BOT_GRAPH": "simulator",
        "ALLOWED_TENANTS": TENANT_ID,
    }
    async with serving(tmp_path, **env) as (mode_line, url), httpx.AsyncClient(trust_env=False) as http:
        assert mode_line.startswith(
            "Mode: Teams with a simulated Graph; Graph: the embedded simulated tenant"
        )
        assert "inbound requests: authenticated" in mode_line and mode_line.endswith(f"tenants: {TENANT_ID}")
        body = activity("/busy 30m", service_url="http://127.0.0.1:9")
        assert (await http.post(f"{url}/api/messages", json=body)).status_code == 401
        assert (await http.get(f"{url}/sim/_sim/users")).status_code == 200, "from this machine"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"MicrosoftAppId": APP, "MicrosoftAppTenantId": TENANT_ID},
            f"configuration error: MicrosoftAppPassword: not set for MicrosoftAppId {APP}",
        ),
        (
            {"MicrosoftAppPassword": SECRET},
            "configuration error: MicrosoftAppId: not set, but MicrosoftAppPassword",
        ),
        (
            {"MicrosoftAppId": APP, "MicrosoftAppPassword": SECRET},
            "configuration error: MicrosoftAppTenantId: not set, and MicrosoftAppType is SingleTenant",
        ),
        (
            {
                "MicrosoftAppId": APP,
                "MicrosoftAppTenantId": TENANT_ID,
                "MicrosoftAppCertificatePath": "/no/bot.pem",
            },
            "configuration error: MicrosoftAppCertificatePath: /no/bot.pem does not exist",
        ),
        (
            {"GRAPH_CLIENT_SECRET": SECRET},
            "configuration error: GRAPH_CLIENT_ID: not set, but GRAPH_CLIENT_SECRET",
        ),
    ],
)
def test_an_incomplete_configuration_is_one_line_and_no_start(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    result = serve(tmp_path, "--port", "0", **env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], "one line"
    assert result.stderr.startswith(line), result.stderr
    assert result.stdout == "", "no mode line, nothing listening"
    assert SECRET not in result.stderr


def test_development_mode_refuses_a_public_address_without_the_switch(tmp_path: Path) -> None:
    result = serve(tmp_path, "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: refusing to listen on 0.0.0.0")
    assert "--allow-unauthenticated" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
