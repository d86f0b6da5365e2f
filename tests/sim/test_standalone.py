"""The standalone simulated tenant (`presence-bot simulator`): the bot pointed at it exactly as at a real
tenant — its own Graph base URL, msal's real flow against the simulated identity platform over TLS,
tokens checked by the simulated Graph — and nothing of the embedded simulator involved."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import RUNTIME
from bot.config import SIM_APP_ID, SIM_TENANT_ID
from bot.graph.auth import MsalTokenProvider
from bot.modes import require_mode
from bot.server import RunningBot, start_bot
from bot.sim.standalone import StandaloneSimulator, start_standalone
from tests.support.builders import activity, real_tenant_settings
from tests.support.connector import Connector
from tests.support.e2e import app_session, card_of, parse_utc, say, texts

ALEX = "00000000-0000-0000-0000-0000000000020"
ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def bot_for(settings: Any) -> AsyncIterator[RunningBot]:
    running = await start_bot(settings, "127.0.0.1", 0)
    try:
        yield running
    finally:
        await running.stop()


def tokens_of(running: RunningBot) -> MsalTokenProvider:
    tokens = running.app[RUNTIME].services.tokens
    assert tokens is not None
    return tokens


async def sim_json(http: httpx.AsyncClient, sim: StandaloneSimulator, path: str) -> dict[str, Any]:
    response = await http.get(f"{sim.url}{path}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_environment_names_exactly_the_real_tenant_variables(simulator: StandaloneSimulator) -> None:
    env = simulator.environment()
    assert list(env) == [
        "GRAPH_BASE_URL",
        "GRAPH_AUTHORITY_HOST",
        "GRAPH_CA_BUNDLE",
        "GRAPH_CLIENT_ID",
        "GRAPH_CLIENT_SECRET",
        "GRAPH_TENANT_ID",
    ]
    assert env["GRAPH_BASE_URL"] == f"{simulator.url}/v1.0"
    assert env["GRAPH_AUTHORITY_HOST"].startswith("https://127.0.0.1:")
    assert await asyncio.to_thread(Path(env["GRAPH_CA_BUNDLE"]).is_file)
    assert (env["GRAPH_CLIENT_ID"], env["GRAPH_TENANT_ID"]) == (SIM_APP_ID, SIM_TENANT_ID)
    assert all(line.startswith("export GRAPH_") for line in simulator.environment_lines())


async def test_graph_at_the_root_checks_tokens(
    simulator: StandaloneSimulator, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"{simulator.graph_base_url}/users/{ALEX}/presence")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert (await http.get(f"{simulator.url}/_sim/users")).status_code == 200, "control routes need no token"


async def test_busy_lands_in_the_standalone_simulator(
    simulator: StandaloneSimulator, http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    settings = real_tenant_settings(tmp_path / "bot", simulator)
    mode = require_mode(settings)
    assert not mode.simulated_graph, "the bot believes it talks to a real tenant"
    assert mode.graph.base_url == simulator.graph_base_url
    async with bot_for(settings) as running:
        assert (await http.get(f"{running.url}/sim/_sim/stats")).status_code == 404, "no embedded simulator"
        sim_now = parse_utc((await sim_json(http, simulator, "/_sim/clock"))["now"])
        reply = await say(http, running, connector, "/busy 30m")
        assert "In a call" in texts(card_of(reply))
        state = await sim_json(http, simulator, f"/_sim/users/{ALEX}")
        session = app_session(state)
        assert session is not None and session["sessionId"] == SIM_APP_ID
        assert (session["availability"], session["activity"]) == ("Busy", "InACall")
        expires = parse_utc(session["expiresAt"]) - sim_now
        assert abs(expires - timedelta(minutes=30)) < timedelta(seconds=10)
        stats = await sim_json(http, simulator, "/_sim/stats")
        assert stats["applied"] == {"POST /v1.0/users/{id}/presence/setPresence": 1}
        assert tokens_of(running).requests_made == 1, "one token, from msal's real client-credentials flow"


async def test_the_conversations_tenant_is_used_without_graph_tenant_id(
    simulator: StandaloneSimulator, http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    """A multi-tenant bot has no GRAPH_TENANT_ID: each conversation's tenant gets its own token."""
    settings = real_tenant_settings(tmp_path / "bot", simulator, tenant_id="")
    assert require_mode(settings).graph.default_tenant == "organizations"
    async with bot_for(settings) as running:
        reply = await say(http, running, connector, "/dnd 1h")
        assert "Do not disturb" in texts(card_of(reply))
        assert (await sim_json(http, simulator, f"/_sim/users/{ALEX}"))["preferred"]["availability"] == (
            "DoNotDisturb"
        )


async def test_no_tenant_anywhere_gets_a_clear_card_and_no_graph_call(
    simulator: StandaloneSimulator, http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    settings = real_tenant_settings(tmp_path / "bot", simulator, tenant_id="")
    async with bot_for(settings) as running:
        body = activity("/busy 30m", service_url=connector.url)
        del body["conversation"]["tenantId"]
        del body["channelData"]
        response = await http.post(f"{running.url}/api/messages", json=body)
        assert response.status_code in (200, 201)
        shown = texts(card_of((await connector.wait_for(1))[0]))
        assert "couldn't sign in to Microsoft Graph" in shown
        assert "need a specific tenant id" in shown
        assert "GRAPH_TENANT_ID" in shown, "and who can fix it, and how"
        assert tokens_of(running).requests_made == 0, "msal refuses 'organizations' before any request"
        assert (await sim_json(http, simulator, "/_sim/stats"))["total"] == 0


async def test_the_standalone_clock_moves_and_an_expired_token_is_replaced(
    simulator: StandaloneSimulator, http: httpx.AsyncClient, connector: Connector, tmp_path: Path
) -> None:
    """The simulator owns its clock: two hours on, the bot's session has lapsed and its token (fresh on
    the bot's wall clock) is expired for the simulated Graph, which answers 401; the client drops that
    token, msal fetches another, and the command still succeeds."""
    async with bot_for(real_tenant_settings(tmp_path / "bot", simulator)) as running:
        await say(http, running, connector, "/busy 30m")
        moved = await http.post(f"{simulator.url}/_sim/clock", json={"advance_seconds": 7200})
        assert moved.status_code == 200 and moved.json()["offsetSeconds"] >= 7200
        assert app_session(await sim_json(http, simulator, f"/_sim/users/{ALEX}")) is None, "lapsed"
        reply = await say(http, running, connector, "/presenting 45m")
        assert "Presenting" in texts(card_of(reply))
        assert tokens_of(running).requests_made == 2
        session = app_session(await sim_json(http, simulator, f"/_sim/users/{ALEX}"))
        assert session is not None and session["activity"] == "Presenting"


async def test_state_and_clock_survive_a_restart(tmp_path: Path, http: httpx.AsyncClient) -> None:
    first = await start_standalone(tmp_path / "sim", port=0)
    try:
        await http.post(f"{first.url}/_sim/clock", json={"advance_seconds": 600})
        await http.post(
            f"{first.url}/_sim/users/{ALEX}/clients", json={"availability": "Busy", "activity": "Busy"}
        )
        ca = first.ca_path.read_bytes()
    finally:
        await first.stop()
    second = await start_standalone(tmp_path / "sim", port=0)
    try:
        assert (await sim_json(http, second, "/_sim/clock"))["offsetSeconds"] >= 600
        assert (await sim_json(http, second, f"/_sim/users/{ALEX}"))["presence"]["availability"] == "Busy"
        assert second.ca_path.read_bytes() == ca, "a bot that trusts the CA keeps trusting it"
    finally:
        await second.stop()


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port < 65535:
            with socket.socket() as a, socket.socket() as b:
                try:
                    a.bind(("127.0.0.1", port))
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    pytest.skip("no two adjacent free ports on loopback")


async def test_the_identity_platform_defaults_to_the_next_port(tmp_path: Path) -> None:
    port = _free_port_pair()
    sim = await start_standalone(tmp_path / "sim", port=port)
    try:
        assert sim.url == f"http://127.0.0.1:{port}"
        assert sim.identity_url == f"https://127.0.0.1:{port + 1}"
    finally:
        await sim.stop()


async def test_the_cli_prints_the_variables_and_stops_on_sigint(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPH_", "PRESENCE_BOT_", "Microsoft"))}
    env["PYTHONPATH"] = str(ROOT)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "simulator",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "sim"),
        "--tenant",
        "contoso.onmicrosoft.com",
        cwd=tmp_path,  # no developer .env
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    printed: dict[str, str] = {}
    try:
        async with asyncio.timeout(20):
            while "GRAPH_TENANT_ID" not in printed:
                line = (await process.stdout.readline()).decode()
                assert line, "the simulator exited before printing its variables"
                if line.startswith("export "):
                    name, _, value = line.removeprefix("export ").strip().partition("=")
                    printed[name] = value
        assert printed["GRAPH_TENANT_ID"] == "contoso.onmicrosoft.com"
        assert printed["GRAPH_CA_BUNDLE"] == str((tmp_path / "sim" / "sim-identity" / "ca.pem").resolve())
        answer = await http.get(f"{printed['GRAPH_BASE_URL']}/users/{ALEX}/presence")
        assert answer.status_code == 401
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            code = await process.wait()
    assert code == 0
