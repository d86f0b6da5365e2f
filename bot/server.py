"""Start the app on a host and port and learn where it listens (port 0 picks a free one)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.app import RUNTIME, create_app, start_background
from bot.clock import Clock
from bot.config import Settings
from bot.core.net import listening_url
from bot.modes import Mode


class _OneLineBadRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a header too large, an encoding it cannot decode) with a
    traceback before answering 400: a client's mistake, so one warning line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= (error.code or 400) < 500:
            # The message can quote the request (a too-long header: maybe a token): keep the text before it.
            reason = re.split(r"[:\s]+b['\"]", " ".join(str(error.message or type(error).__name__).split()))[
                0
            ]
            reason = reason[:200]
            record.msg = f"{record.msg} ({error.code}: %s)"
            record.args = (*(record.args if isinstance(record.args, tuple) else ()), reason)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_SERVER_LOG = logging.getLogger("aiohttp.server")
_SERVER_LOG.addFilter(_OneLineBadRequests())


@dataclass
class RunningBot:
    runner: web.AppRunner
    app: web.Application
    url: str  # e.g. http://127.0.0.1:3978

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_bot(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 3978,
    *,
    clock: Clock | None = None,
    mode: Mode | None = None,
) -> RunningBot:
    app = create_app(settings, clock=clock, mode=mode)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    url = listening_url("http", host, runner.addresses, port)  # the real port when 0 was asked for
    app[RUNTIME].self_url = url
    await start_background(app)
    return RunningBot(runner=runner, app=app, url=url)
