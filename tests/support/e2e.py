"""Helpers for end-to-end tests: talk to the real app over HTTP as Teams would, read the simulator."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import httpx

from tests.support.builders import ALEX, activity
from tests.support.connector import Connector


class Served(Protocol):
    """Anything serving the bot: an in-process `RunningBot` or a `tests.support.procs.BotProcess`."""

    @property
    def url(self) -> str: ...


async def say(
    http: httpx.AsyncClient, bot: Served, connector: Connector, text: str | None, **kwargs: Any
) -> dict[str, Any]:
    """Send a message activity to /api/messages and return the bot's reply activity."""
    before = len(connector.received)
    response = await http.post(
        f"{bot.url}/api/messages", json=activity(text, service_url=connector.url, **kwargs)
    )
    assert response.status_code in (200, 201), response.text
    received = await connector.wait_for(before + 1)
    return received[before]


def card_of(reply: dict[str, Any]) -> dict[str, Any]:
    attachments = reply.get("attachments") or []
    assert attachments, f"the reply carries no card: {reply}"
    assert attachments[0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    card: dict[str, Any] = attachments[0]["content"]
    return card


def texts(node: Any) -> str:
    """Every piece of text a person would read on a card, joined by newlines."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            kind = value.get("type")
            if kind in {"TextBlock", "TextRun"} and isinstance(value.get("text"), str):
                out.append(value["text"])
            if kind == "FactSet":
                for fact in value.get("facts", []):
                    out.append(f"{fact.get('title', '')} {fact.get('value', '')}")
            if kind == "RichTextBlock":
                walk(value.get("inlines"))
            for key, child in value.items():
                if key in {"body", "items", "columns", "actions", "card", "inlines", "fallback"}:
                    walk(child)
                elif key == "title" and kind and kind.startswith("Action."):
                    out.append(str(child))
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
    return "\n".join(out)


async def sim_user(http: httpx.AsyncClient, bot: Served, user_id: str) -> dict[str, Any]:
    response = await http.get(f"{bot.url}/sim/_sim/users/{user_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def sim_stats(http: httpx.AsyncClient, bot: Served) -> dict[str, Any]:
    response = await http.get(f"{bot.url}/sim/_sim/stats")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def advance(http: httpx.AsyncClient, bot: Served, *, minutes: float) -> None:
    """Move the simulated clock (the bot's and its tenant's) forward: timers due by then fire."""
    response = await http.post(f"{bot.url}/sim/_sim/clock", json={"advance_seconds": minutes * 60})
    assert response.status_code == 200, response.text


async def presence_is(
    http: httpx.AsyncClient, bot: Served, availability: str, activity: str, *, user: str = ALEX
) -> bool:
    """The simulated tenant shows `user` as this pair now."""
    presence = (await sim_user(http, bot, user))["presence"]
    return bool((presence["availability"], presence["activity"]) == (availability, activity))


def notices(connector: Connector) -> list[dict[str, Any]]:
    """The proactive notices a hold sent (ended, or overridden elsewhere), in the order they arrived."""
    return [
        a for a in connector.received if "ended" in texts(card_of(a)) or "overridden" in texts(card_of(a))
    ]


async def bot_now(http: httpx.AsyncClient, bot: Served) -> datetime:
    response = await http.get(f"{bot.url}/healthz")
    return datetime.fromisoformat(response.json()["time"])


def app_session(state: dict[str, Any]) -> dict[str, Any] | None:
    for session in state["sessions"]:
        if session.get("kind") == "app":
            return dict(session)
    return None


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
