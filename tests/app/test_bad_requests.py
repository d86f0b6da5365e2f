"""Bad requests through the real endpoint: each gets a 4xx or a clear card, never a 5xx, and the log
gets at most one line for it, never a traceback (issue 10: safe to install tenant-wide)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.core.net import bound_port
from bot.server import RunningBot
from tests.support.builders import ALEX, BOT_ID, activity
from tests.support.connector import Connector
from tests.support.e2e import card_of, say, sim_stats, sim_user, texts


@pytest.fixture(autouse=True)
def no_traceback(caplog: pytest.LogCaptureFixture) -> Any:
    yield
    assert "Traceback" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def _post(http: httpx.AsyncClient, bot: RunningBot, content: bytes, **headers: str) -> Any:
    return http.post(
        f"{bot.url}/api/messages", content=content, headers={"Content-Type": "application/json", **headers}
    )


def _encoded(connector: Connector, text: str = "/presence", **kwargs: Any) -> bytes:
    """An activity as JSON bytes, lone surrogates escaped (`\\ud800`) as a JSON encoder writes them."""
    return json.dumps(activity(text, service_url=connector.url, **kwargs)).encode()


async def _say(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, text: str, **kwargs: Any
) -> Any:
    before = len(connector.received)
    response = await _post(http, bot, _encoded(connector, text, **kwargs))
    assert response.status_code == 201, response.text
    return (await connector.wait_for(before + 1))[before]


# -- bodies ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"[" * 100_000 + b"]" * 100_000, {}, 400),  # json.loads would raise RecursionError
        (b'{"type": "message", "value": ' + b"[" * 70 + b"]" * 70 + b"}", {}, 400),
        (b"garbage", {"Content-Encoding": "gzip"}, 400),
        (gzip.compress(b"not json", mtime=0), {"Content-Encoding": "gzip"}, 400),
        (b"\x78\x9c garbage", {"Content-Encoding": "deflate"}, 400),
        (gzip.compress(b" " * 5_000_000, mtime=0), {"Content-Encoding": "gzip"}, 413),  # 5 MB from 5 KB
        (b" " * (2 * 1024 * 1024), {}, 413),
        (b"{}", {"Content-Encoding": "br"}, 400),  # aiohttp refuses it before the handler (no Brotli)
        (b"{}", {"Content-Encoding": "x-unknown"}, 415),
        (b"{}", {"Content-Encoding": "gzip, gzip"}, 415),
        (b"{}", {"Content-Type": "text/plain"}, 415),
    ],
)
async def test_bodies_that_cannot_be_read_are_4xx(
    http: httpx.AsyncClient, bot: RunningBot, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = await _post(http, bot, content, **headers)
    assert response.status_code == status, response.text
    assert response.text
    assert (await http.get(f"{bot.url}/healthz")).status_code == 200


async def test_a_header_too_large_is_one_line_without_the_header(
    http: httpx.AsyncClient, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    response = await _post(http, bot, b"{}", Authorization="Bearer " + "secret" * 2000)
    assert response.status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.server"]
    assert len(lines) == 1 and "8190 bytes" in lines[0], lines
    assert "secret" not in caplog.text


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compressed_activity_is_read(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, encoding: str
) -> None:
    raw = _encoded(connector)
    content = gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)
    response = await _post(http, bot, content, **{"Content-Encoding": encoding})
    assert response.status_code == 201, response.text
    assert "Available" in texts(card_of((await connector.wait_for(1))[0]))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"from": {"id": "user\x00", "aadObjectId": ALEX}}, "from.id"),
        ({"from": {"id": "u", "aadObjectId": "\ud800"}}, "from.aadObjectId"),
        ({"conversation": {"id": "c" * 5000}}, "conversation.id"),
        ({"channelData": {"tenant": {"id": 42}}}, "channelData.tenant.id"),
        ({"serviceUrl": "http://127.0.0.1/" + "x" * 3000}, "serviceUrl"),
        ({"id": ["a"]}, "id"),
        ({"serviceUrl": "http://[::1"}, "serviceUrl"),
    ],
)
async def test_broken_identifiers_are_400(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, changes: dict[str, Any], field: str
) -> None:
    body = activity("/busy 30m", service_url=connector.url)
    body.update(changes)
    response = await _post(http, bot, json.dumps(body).encode())
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert (await sim_stats(http, bot))["total"] == 0


# -- message text ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("/busy " + "9" * 100_000, "can't read that length"),
        ("/busy " + "1" * 101 + "m", "can't read that length"),
        ("/status " + "x" * 5000, "too long"),
        ("/status lunch \ud83d", "can't read that message"),
    ],
)
async def test_texts_no_parser_should_see_get_a_card(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, text: str, shown: str
) -> None:
    reply = await _say(http, bot, connector, text)
    assert shown in texts(card_of(reply)).lower().replace("’", "'")
    assert (await sim_stats(http, bot))["total"] == 0


async def test_control_characters_are_dropped_from_a_command(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    await say(http, bot, connector, "/status Out\x00 for\x07 lunch 😀")
    assert (await sim_user(http, bot, ALEX))["statusMessage"]["message"]["content"] == "Out for lunch 😀"


async def test_odd_names_and_zones_still_get_their_answer(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    reply = await _say(
        http, bot, connector, "/presence", user_name="Ale\x00x \udfff", time_zone="A" * 5000, locale="\ud800"
    )
    assert "Available" in texts(card_of(reply))


# -- other activities -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "members",
    [[None], [None, {"id": BOT_ID}], [{"name": "no id"}], [{"id": None}], [{"id": BOT_ID}] + [None] * 5000],
)
async def test_members_added_with_holes(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, members: list[Any]
) -> None:
    body = activity(None, service_url=connector.url, kind="conversationUpdate", membersAdded=members)
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code == 201
    if any(isinstance(m, dict) and m.get("id") == BOT_ID for m in members):
        assert "/busy" in texts(card_of((await connector.wait_for(1))[0]))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("composeExtension/query", {"commandId": "x"}),
        ("task/fetch", "not an object"),
        ("fileConsent/invoke", None),
        ("signin/verifyState", {"state": 1}),
        ("healthCheck", None),
        (None, None),
        ("x" * 5000, None),
    ],
)
async def test_invokes_the_bot_does_not_handle_get_an_empty_200(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector, name: str | None, value: Any
) -> None:
    extra: dict[str, Any] = {"name": name} if name is not None else {}
    body = activity(None, service_url=connector.url, kind="invoke", value=value, **extra)
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert (await sim_stats(http, bot))["total"] == 0


async def test_expect_replies_returns_the_replies_in_the_answer(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    body = activity("/presence", service_url=connector.url, deliveryMode="expectReplies")
    response = await http.post(f"{bot.url}/api/messages", json=body)
    assert response.status_code == 200, response.text
    assert "Available" in texts(card_of(response.json()["activities"][0]))
    assert connector.received == []


# -- a channel that cannot take the reply ---------------------------------------------------------
@pytest.fixture
async def broken_channel() -> AsyncIterator[str]:
    async def not_found(request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such conversation")

    async def json_error(request: web.Request) -> web.Response:
        return web.json_response({"error": {"code": "BadArgument", "message": "no"}}, status=404)

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>a captive portal</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/404/{tail:.*}", not_found)
    app.router.add_route("*", "/json404/{tail:.*}", json_error)
    app.router.add_route("*", "/html/{tail:.*}", html)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{bound_port(runner.addresses)}"
    await runner.cleanup()


@pytest.mark.parametrize(
    "path",
    ["not a url", "ftp://127.0.0.1/x", "http://127.0.0.1:9", "/404", "/json404", "/html"],
)
async def test_a_channel_that_cannot_take_the_reply_is_one_warning(
    http: httpx.AsyncClient,
    bot: RunningBot,
    broken_channel: str,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    service_url = broken_channel + path if path.startswith("/") else path
    response = await http.post(f"{bot.url}/api/messages", json=activity("/presence", service_url=service_url))
    if path == "not a url":  # not on this machine: refused before any work (unauthenticated mode)
        assert response.status_code == 400 and "serviceUrl" in response.text, response.text
        return
    assert response.status_code == 201, response.text
    warnings = [r for r in caplog.records if r.getMessage().startswith("could not send the reply to")]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
