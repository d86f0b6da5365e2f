"""No open door: what an unauthenticated bot answers (only activities whose `serviceUrl` is on this
machine, so it cannot be used as a request relay), what production mounts (no `/sim`), and what a real
Teams client sees when Graph is simulated (`PRESENCE_BOT_GRAPH=simulator`: every card says so)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from botbuilder.core import TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity

import cards
from bot.app import RUNTIME
from bot.modes import ModeKind, require_mode
from bot.server import RunningBot, start_bot
from tests.support.builders import ALEX, activity, make_settings
from tests.support.certs import write_certificate
from tests.support.connector import Connector
from tests.support.e2e import app_session, card_of, say, sim_stats, sim_user, texts

APP = "8d3f1c2a-5b6e-4f70-9a81-b2c3d4e5f601"
TENANT = "00000000-0000-0000-0000-0000000000001"


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection this process opens, and every name it looks up (port 0), whoever does it:
    asyncio, aiohttp and the `requests` session botbuilder's connector client runs in a thread all end
    in `socket.connect` (and `getaddrinfo` for a name)."""
    opened: list[tuple[str, int]] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def recording_connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            opened.append((str(address[0]), int(address[1])))
        connect(self, address)

    def recording_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append((str(host), 0))
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    monkeypatch.setattr(socket, "getaddrinfo", recording_lookup)
    return opened


@pytest.mark.parametrize(
    "service_url",
    [
        "http://10.0.0.1:9/",
        "https://smba.trafficmanager.net/emea/",
        "http://127.0.0.1.nip.io/",
        "http://localhost@10.0.0.1/",
        "http://[::ffff:10.0.0.1]/",
        "http://0.0.0.0:80/",
    ],
)
async def test_an_unauthenticated_bot_answers_only_a_service_url_on_this_machine(
    http: httpx.AsyncClient,
    bot: RunningBot,
    connector: Connector,
    connections: list[tuple[str, int]],
    service_url: str,
) -> None:
    body = activity("/busy 30m", service_url=service_url)
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "inbound requests are not authenticated, so the bot replies only to a serviceUrl on this machine"
    )
    bot_port = int(bot.url.rsplit(":", 1)[1])
    assert [c for c in connections if c[1] != bot_port] == [], "no outbound request, not even a DNS lookup"
    assert (await sim_stats(http, bot))["total"] == 0, "and the command did not run"
    assert app_session(await sim_user(http, bot, ALEX)) is None
    assert connector.received == []


async def test_a_loopback_service_url_is_answered_and_the_recorder_sees_it(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, connections: list[tuple[str, int]]
) -> None:
    """The control for the test above: the same activity to a loopback connector runs and is answered,
    and the connection the reply opens is recorded."""
    reply = await say(http, bot, connector, "/busy 30m")
    assert "In a call" in texts(card_of(reply))
    connector_port = int(connector.url.rsplit(":", 1)[1])
    assert any(port == connector_port for _, port in connections)


async def test_a_conversation_update_with_a_foreign_service_url_is_refused_too(
    http: httpx.AsyncClient, bot: RunningBot
) -> None:
    """The welcome card goes to the serviceUrl as well: every activity type is checked."""
    for service_url in ("https://evil.example/", 12345):
        body = {
            "type": "conversationUpdate",
            "serviceUrl": service_url,
            "conversation": {"id": "c"},
            "recipient": {"id": "bot"},
            "membersAdded": [{"id": "bot"}],
        }
        response = await http.post(f"{bot.url}/api/messages", json=body)
        assert response.status_code == 400, service_url


async def test_production_mounts_no_simulator(http: httpx.AsyncClient, tmp_path: Path) -> None:
    certificate = tmp_path / "bot.pem"
    write_certificate(certificate)
    settings = make_settings(
        tmp_path / "data",
        bot={"app_id": APP, "app_certificate_path": certificate, "app_tenant_id": TENANT},
    )
    running = await start_bot(settings, "127.0.0.1", 0)
    try:
        assert running.app[RUNTIME].mode.kind is ModeKind.PRODUCTION
        assert running.app[RUNTIME].sim_identity is None
        for path in ("/sim/_sim/users", "/sim/_sim/clock", "/sim/v1.0/users/x/presence"):
            assert (await http.get(f"{running.url}{path}")).status_code == 404, path
        response = await http.post(
            f"{running.url}/api/messages", json=activity("/busy", service_url="http://127.0.0.1:9")
        )
        assert response.status_code == 401
    finally:
        await running.stop()


# -- Teams with a simulated Graph ---------------------------------------------------------------------
@pytest.fixture
async def teams_sim(tmp_path: Path) -> Any:
    settings = make_settings(
        tmp_path / "data",
        bot={"app_id": APP, "app_password": "a-secret", "app_tenant_id": TENANT},
        graph={"target": "simulator"},
    )
    assert require_mode(settings).kind is ModeKind.TEAMS_SIMULATED_GRAPH
    running = await start_bot(settings, "127.0.0.1", 0)
    yield running
    await running.stop()


async def _turn(running: RunningBot, body: dict[str, Any]) -> list[Activity]:
    """One activity through the real handler and pipeline (inbound authentication is botbuilder's and
    is tested above: here a test adapter collects what the bot sends)."""
    adapter = TestAdapter()
    runtime = running.app[RUNTIME]
    await runtime.services.bot.on_turn(TurnContext(adapter, Activity().deserialize(body)))
    return list(adapter.activity_buffer)


async def test_with_a_simulated_graph_every_card_says_so(
    teams_sim: RunningBot, http: httpx.AsyncClient
) -> None:
    sent = await _turn(teams_sim, activity("/busy 30m", service_url="https://smba.trafficmanager.net/emea/"))
    (message,) = sent
    card = message.attachments[0].content
    shown = texts(card)
    assert "In a call" in shown, "the command ran against the simulated tenant"
    assert cards.SIMULATED_NOTE in shown
    assert message.summary.startswith(cards.SIMULATED_PREFIX)
    presence = (await sim_user(http, teams_sim, ALEX))["presence"]
    assert presence["activity"] == "InACall"

    # A card button (Universal Action) is answered in the invoke response: marked too.
    invoke = activity(
        None,
        service_url="https://smba.trafficmanager.net/emea/",
        kind="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "command", "data": {"command": "/presence"}}},
    )
    (answer,) = await _turn(teams_sim, invoke)
    assert cards.SIMULATED_NOTE in texts(answer.value.body.value)

    # The welcome card on install.
    welcome = {
        "type": "conversationUpdate",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "conversation": {"id": "c", "tenantId": TENANT},
        "recipient": {"id": "28:bot"},
        "from": {"id": "29:someone"},
        "membersAdded": [{"id": "28:bot"}],
    }
    (hello,) = await _turn(teams_sim, welcome)
    assert cards.SIMULATED_NOTE in texts(hello.attachments[0].content)


async def test_in_development_cards_carry_no_simulated_note(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    assert cards.SIMULATED_NOTE not in texts(card_of(await say(http, bot, connector, "/busy 30m")))
