"""A bare botbuilder echo bot on Presence Bot's stack: the floor `bench/turns.py` compares the bot with.

    .venv/bin/python -m bench.echo --port 3990

aiohttp + botbuilder's `CloudAdapter` with `ConfigurationBotFrameworkAuthentication` and no app id (as the
bot runs in development), an `ActivityHandler` that answers each message with one small Adaptive Card
(about the size of the bot's presence card: a headline, the echoed text, a footer and five buttons), sent
to the activity's `serviceUrl` before the POST is answered 201, as the bot does. No store, no Graph.

It applies the bot's one botbuilder fix (`bot/teams/speedups.py`, msrest's retry policy) so that both
run the same botbuilder code per activity; `--plain` leaves botbuilder as it ships.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, Attachment

from bot.teams import speedups

log = logging.getLogger(__name__)

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
_BUTTONS = ("/busy 30m", "/dnd 1h", "/available", "/reset", "/presence")


class _Config:
    """The attribute names botbuilder's configuration objects expect: no app id, no password."""

    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


def _text(value: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def echo_card(text: str, user_name: str | None) -> dict[str, Any]:
    """A small Adaptive Card 1.5 that repeats `text`."""
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "fallbackText": f"You said: {text}",
        "body": [
            {
                "type": "TextBlock",
                "text": user_name or "Echo",
                "wrap": True,
                "size": "small",
                "isSubtle": True,
            },
            {"type": "TextBlock", "text": "● Echo", "wrap": True, "size": "large", "weight": "bolder"},
            {
                "type": "Container",
                "separator": True,
                "spacing": "medium",
                "items": [
                    {"type": "TextBlock", "text": f"You said: {text}", "wrap": True, "weight": "bolder"}
                ],
            },
            _text("Times in UTC", size="small", isSubtle=True),
        ],
        "actions": [
            {
                "type": "Action.Execute",
                "title": command,
                "verb": "command",
                "data": {"command": command},
                "fallback": {"type": "Action.Submit", "title": command, "data": {"command": command}},
            }
            for command in _BUTTONS
        ],
    }


class EchoBot(ActivityHandler):  # type: ignore[misc]
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        text = str(activity.text or "")
        name = activity.from_property.name if activity.from_property is not None else None
        await turn_context.send_activity(
            Activity(
                type=ActivityTypes.message,
                summary=f"You said: {text}",
                attachments=[Attachment(content_type=CARD_TYPE, content=echo_card(text, name))],
            )
        )


def create_app() -> web.Application:
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_Config()))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse | None = await adapter.process(request, bot)
        assert response is not None
        return response

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(create_app(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"Echo bot listening on http://{host}:{port}/api/messages", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3990)
    parser.add_argument("--plain", action="store_true", help="without the bot's msrest fix")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.plain:
        speedups.apply()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
