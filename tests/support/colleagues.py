"""Colleagues in a group chat, as Teams shows them to the bot: a roster the test connector answers,
@mentions as Teams writes them, and the simulated tenant's control routes to set their presence."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.builders import ALEX, BOT_ID
from tests.support.connector import Connector, roster_member
from tests.support.e2e import Served, card_of, say
from tests.support.playground import card_texts

MEGAN = "00000000-0000-0000-0000-0000000000021"
ADELE = "00000000-0000-0000-0000-0000000000022"
ISAIAH = "00000000-0000-0000-0000-0000000000023"
GROUP = "19:group-chat-colleagues@thread.v2"
OTHER_TENANT = "99999999-0000-0000-0000-000000000001"
LEE = "00000000-0000-0000-0000-0000000000099"  # a guest from another organization

ROSTER = [
    roster_member("Alex Wilber", ALEX),
    roster_member("Megan Bowen", MEGAN),
    roster_member("Adele Vance", ADELE),
    roster_member("Isaiah Langer", ISAIAH),
    roster_member("Lee Gu", LEE, tenant_id=OTHER_TENANT),
]


def member(aad: str) -> dict[str, Any]:
    return next(m for m in ROSTER if m.get("aadObjectId") == aad)


def mention(aad: str) -> tuple[str, dict[str, Any]]:
    """How Teams writes a picked @mention: `<at>Name</at>` in the text and an entity naming the member."""
    who = member(aad)
    tag = f"<at>{who['name']}</at>"
    return tag, {"type": "mention", "mentioned": {"id": who["id"], "name": who["name"]}, "text": tag}


def message(text: str, *people: str, **kwargs: Any) -> dict[str, Any]:
    """`text` with `{}` where each mention goes, in a group chat, as Teams sends it."""
    tags, entities = zip(*(mention(p) for p in people), strict=True) if people else ((), ())
    bot_tag = "<at>Test Bot</at>"
    bot_entity = {
        "type": "mention",
        "mentioned": {"id": BOT_ID, "name": "Test Bot"},
        "text": bot_tag,
    }
    return {
        "text": f"{bot_tag} " + text.format(*tags),
        "conversation_type": kwargs.pop("conversation_type", "groupChat"),
        "conversation_id": kwargs.pop("conversation_id", GROUP),
        "entities": [{"type": "clientInfo", "locale": "en-US", "timezone": "UTC"}, bot_entity, *entities],
        **kwargs,
    }


async def ask(
    http: httpx.AsyncClient, bot: Served, connector: Connector, text: str, *people: str, **kw: Any
) -> list[str]:
    """Send `text` (with `{}` for each of `people`, mentioned) in the group chat; the reply card's texts."""
    spec = message(text, *people, **kw)
    reply = await say(http, bot, connector, spec.pop("text"), **spec)
    return card_texts(card_of(reply))


async def sim(
    http: httpx.AsyncClient, bot: Served, method: str, path: str, body: Any = None
) -> httpx.Response:
    response = await http.request(method, f"{bot.url}/sim/_sim{path}", json=body)
    assert response.status_code < 300, response.text
    return response


async def sign_in(http: httpx.AsyncClient, bot: Served, user: str, availability: str, activity: str) -> str:
    """A Teams client of `user` reporting this state; its client id."""
    body = {"availability": availability, "activity": activity}
    return str((await sim(http, bot, "POST", f"/users/{user}/clients", body)).json()["id"])


async def set_clients(
    http: httpx.AsyncClient, bot: Served, user: str, availability: str, activity: str
) -> None:
    """Every Teams client of `user` now reports this state (a meeting ends: Available)."""
    state = (await sim(http, bot, "GET", f"/users/{user}")).json()
    for session in state["sessions"]:
        if session["kind"] == "client":
            body = {"availability": availability, "activity": activity}
            await sim(http, bot, "PATCH", f"/users/{user}/clients/{session['sessionId']}", body)
