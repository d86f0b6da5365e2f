"""Readiness (`/readyz`): can this process do its work right now?

Three checks, each named in the answer: the store answers a trivial query, the timer service runs, and
(against real Microsoft Graph only) a Graph token can be had for the default tenant. The token check
asks the identity platform at most once per `graph_every` (60 s) whatever the probe rate: its result,
good or bad, is kept that long, and concurrent probes share one check. Liveness (`/healthz`) answers
as long as the event loop does. `HealthRoutes` serves both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Protocol

import sqlalchemy as sa
from aiohttp import web

from bot.clock import Clock
from bot.store.store import Store
from bot.store.timers import TimerService

log = logging.getLogger(__name__)

OK = "ok"
_STORE_TIMEOUT = 5.0
_GRAPH_TIMEOUT = 10.0


class Tokens(Protocol):
    async def token(self, tenant_id: str | None = None) -> str: ...


class Readiness:
    """`check()` → (failed checks, {check: "ok" | why not}). `tokens=None`: no Graph check (the simulator, or
    a multi-tenant deployment without a default tenant), reported as `skipped`."""

    def __init__(
        self,
        store: Store,
        timers: TimerService,
        tokens: Tokens | None,
        *,
        skipped_because: str = "simulated tenant",
        graph_every: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._timers = timers
        self._tokens = tokens
        self._skipped = f"skipped ({skipped_because})"
        self._every = graph_every
        self._monotonic = monotonic
        self._graph: tuple[float, str] | None = None  # (when checked, result)
        self._graph_lock = asyncio.Lock()

    async def check(self) -> tuple[list[str], dict[str, str]]:
        """(the checks that failed, every check's result): ready when the first is empty."""
        results = {
            "store": await self._check_store(),
            "timers": OK if self._timers.running else "not running",
            "graph": await self._check_graph(),
        }
        failed = [name for name, value in results.items() if value != OK and not value.startswith("skipped")]
        return failed, results

    async def _check_store(self) -> str:
        try:
            async with asyncio.timeout(_STORE_TIMEOUT):
                async with self._store.read() as connection:
                    await connection.execute(sa.text("SELECT 1"))
        except TimeoutError:
            return f"no answer within {_STORE_TIMEOUT:g} s"
        except Exception as error:  # any driver error means "not ready"; the type says which
            log.warning("readiness: the store did not answer: %s", type(error).__name__)
            return f"failed: {type(error).__name__}"
        return OK

    async def _check_graph(self) -> str:
        if self._tokens is None:
            return self._skipped
        async with self._graph_lock:
            now = self._monotonic()
            if self._graph is not None and now - self._graph[0] < self._every:
                return self._graph[1]
            result = await self._ask_for_token(self._tokens)
            self._graph = (self._monotonic(), result)
            return result

    @staticmethod
    async def _ask_for_token(tokens: Tokens) -> str:
        try:
            async with asyncio.timeout(_GRAPH_TIMEOUT):
                await tokens.token()
        except TimeoutError:
            return f"no token within {_GRAPH_TIMEOUT:g} s"
        except Exception as error:  # TokenError says which (its code); its text is safe to show
            code = getattr(error, "code", None) or type(error).__name__
            log.warning("readiness: no Graph token: %s", code)
            return f"failed: no Graph token ({code})"
        return OK


class HealthRoutes:
    """`/healthz` (liveness) and `/readyz` (readiness): 503 "starting" until `open`, and again after
    `close`. `about` is what liveness reports of the process (its mode, which Graph, whether inbound
    requests are authenticated); `stats`, read on each probe, the timers' and the notices' numbers."""

    def __init__(self, about: dict[str, object], clock: Clock) -> None:
        self._about = about
        self._clock = clock
        self._open: tuple[Readiness, Callable[[], dict[str, object]]] | None = None

    def open(self, readiness: Readiness, stats: Callable[[], dict[str, object]]) -> None:
        self._open = (readiness, stats)

    def close(self) -> None:
        self._open = None

    async def live(self, request: web.Request) -> web.Response:
        """Liveness: answers 200 once the app has started, for as long as its event loop answers."""
        if self._open is None:
            return web.json_response({"status": "starting"}, status=HTTPStatus.SERVICE_UNAVAILABLE)
        body = {"status": "ok", **self._about, "time": self._clock.now().isoformat(), **self._open[1]()}
        return web.json_response(body)

    async def ready(self, request: web.Request) -> web.Response:
        """Readiness: 200 when the store answers, the timers run and (real Graph) a token can be had;
        else 503 naming the check that failed."""
        if self._open is None:
            return web.json_response({"status": "starting"}, status=HTTPStatus.SERVICE_UNAVAILABLE)
        failed, checks = await self._open[0].check()
        body = {"status": "not ready" if failed else "ready", "checks": checks, "failed": failed}
        return web.json_response(body, status=HTTPStatus.SERVICE_UNAVAILABLE if failed else HTTPStatus.OK)
