"""Builders for test inputs: the bot's `Settings` for a test, and Bot Framework activities as Teams
sends them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import Settings

TENANT = "00000000-0000-0000-0000-0000000000001"
BOT_ID = "00000000-0000-0000-0000-00000000000011"
ALEX = "00000000-0000-0000-0000-0000000000020"  # the default sender's Entra object id (`aad`)


def make_settings(data_dir: Path, **groups: dict[str, Any]) -> Settings:
    """Settings for a test: the embedded simulator, nothing read from a developer's `.env`. `groups`
    change fields of a group: `make_settings(path, colleagues={"watch_cap": 2})`."""
    values: dict[str, Any] = {
        "bot": {"app_id": "", "app_password": "", "allowed_tenants": []},
        "graph": {"client_id": "", "client_secret": ""},
        "presence": {"default_duration": timedelta(hours=1), "default_time_zone": "UTC"},
        "store": {"data_dir": data_dir},
    }
    for group, fields in groups.items():
        values[group] = {**values.get(group, {}), **fields}
    return Settings(_env_file=None, **values)


def activity(
    text: str | None,
    *,
    service_url: str,
    user_id: str = "user-id-0",
    aad: str | None = ALEX,
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


def unsigned_replies(running: Any) -> None:
    """Replies from an authenticated test bot go unsigned: they go to a connector stub on this machine,
    which takes no token, and signing them would fetch one from Entra ID (never contacted in tests).
    Inbound tokens are still checked. Reaches into botbuilder's authentication object, test-only."""
    from botframework.connector.auth import PasswordServiceClientCredentialFactory

    from bot.app import RUNTIME

    authentication = running.app[RUNTIME].services.authentication
    authentication._inner._credentials_factory = PasswordServiceClientCredentialFactory(None, None, None)


def real_tenant_settings(data_dir: Path, sim: Any, **graph: Any) -> Settings:
    """The bot's settings for a real tenant, filled from what a standalone simulated tenant prints
    (`presence-bot simulator`), as an admin would fill them from Entra ID; `graph` changes some."""
    env = sim.environment()
    values: dict[str, Any] = {
        "client_id": env["GRAPH_CLIENT_ID"],
        "client_secret": env["GRAPH_CLIENT_SECRET"],
        "base_url": env["GRAPH_BASE_URL"],
        "authority_host": env["GRAPH_AUTHORITY_HOST"],
        "ca_bundle": Path(env["GRAPH_CA_BUNDLE"]),
        "tenant_id": env["GRAPH_TENANT_ID"],
        **graph,
    }
    return make_settings(data_dir, graph=values)
