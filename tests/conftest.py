from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.config import Settings
from bot.server import RunningBot, start_bot
from tests.support.connector import Connector

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
TENANT = "00000000-0000-0000-0000-0000000000001"
BOT_ID = "00000000-0000-0000-0000-00000000000011"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: the embedded simulator, nothing read from the developer's environment."""
    values: dict[str, Any] = {
        "microsoft_app_id": "",
        "microsoft_app_password": "",
        "graph_client_id": "",
        "graph_client_secret": "",
        "data_dir": data_dir,
        "default_duration": timedelta(hours=1),
        "default_time_zone": "UTC",
        "allowed_tenants": [],
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def connector() -> AsyncIterator[Connector]:
    conn = Connector()
    runner = web.AppRunner(conn.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    conn.url = f"http://127.0.0.1:{port}"
    yield conn
    await runner.cleanup()


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    running = await start_bot(make_settings(tmp_path / "data"), "127.0.0.1", 0)
    yield running
    await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=20) as client:
        yield client


def activity(
    text: str | None,
    *,
    service_url: str,
    user_id: str = "user-id-0",
    aad: str | None = "00000000-0000-0000-0000-0000000000020",
    user_name: str = "Alex Wilber",
    conversation_type: str = "personal",
    conversation_id: str = "e2ac58d2-d449-4671-b04a-ce88004c979a",
    time_zone: str | None = "UTC",
    value: dict[str, Any] | None = None,
    kind: str = "message",
    **extra: Any,
) -> dict[str, Any]:
    """A Bot Framework activity shaped like the ones the Agents Playground sends (shared/samples)."""
    sender: dict[str, Any] = {"id": user_id, "name": user_name}
    if aad:
        sender["aadObjectId"] = aad
    body: dict[str, Any] = {
        "type": kind,
        "id": str(uuid.uuid4()),
        "timestamp": "2026-11-22T05:35:22.901Z",
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": sender,
        "conversation": {"conversationType": conversation_type, "tenantId": TENANT, "id": conversation_id},
        "recipient": {"id": BOT_ID, "name": "Test Bot"},
        "locale": "en-US",
        "channelData": {"tenant": {"id": TENANT}},
        "entities": [{"type": "clientInfo", "locale": "en-US", "timezone": time_zone or "UTC"}],
    }
    if time_zone:
        body["localTimezone"] = time_zone
    if conversation_type != "personal":
        body["conversation"]["isGroup"] = True
    if text is not None:
        body["text"] = text
    if value is not None:
        body["value"] = value
    body.update(extra)
    return body
