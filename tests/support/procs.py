"""Run `presence-bot serve` as a real operating-system process, as a deployment does.

Used where in-process tests cannot prove the point: a bot killed with SIGKILL and started again,
or two bot processes sharing one PostgreSQL. Each process logs to a file next to its data directory
(shown when a test fails), listens on a free loopback port and is always stopped by the test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.core.net import free_port

ROOT = Path(__file__).resolve().parents[2]

# Variables of the developer's shell that would change what the bot talks to.
_CLEARED = (
    "MicrosoftAppId",
    "MicrosoftAppPassword",
    "MicrosoftAppType",
    "MicrosoftAppTenantId",
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
    "MicrosoftAppCertificatePath",
    "MICROSOFT_APP_CERTIFICATE_PATH",
    "GRAPH_CLIENT_ID",
    "GRAPH_CLIENT_SECRET",
    "GRAPH_CLIENT_CERTIFICATE_PATH",
    "GRAPH_MANAGED_IDENTITY_CLIENT_ID",
    "PRESENCE_BOT_GRAPH",
    "PRESENCE_BOT_SIM_TENANTS",
    "GRAPH_TENANT_ID",
    "GRAPH_BASE_URL",
    "GRAPH_AUTHORITY_HOST",
    "GRAPH_CA_BUNDLE",
    "DATABASE_URL",
    "ALLOWED_TENANTS",
)


@dataclass
class BotProcess:
    """One `presence-bot serve` process."""

    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    name: str = "bot"
    port: int = 0
    process: asyncio.subprocess.Process | None = None
    log_path: Path | None = None
    starts: int = 0
    # What "ready" means: /readyz (store, timers, a Graph token against real Graph), or /healthz for a
    # process whose Graph is deliberately unreachable.
    ready_path: str = "/readyz"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, *, ready_within: float = 60.0) -> None:
        """Start the process and wait until `ready_path` answers 200 (the store answers, timers run)."""
        assert self.process is None or self.process.returncode is not None, "already running"
        self.port = free_port()
        self.starts += 1
        environment = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        environment.update(
            {
                "PRESENCE_BOT_DATA_DIR": str(self.data_dir),
                "PRESENCE_BOT_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        environment.update(self.env)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.name}-{self.starts}.log"
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=log,
            )
        await self._wait_ready(ready_within)

    async def _wait_ready(self, seconds: float) -> None:
        assert self.process is not None
        async with httpx.AsyncClient(timeout=2) as http:
            try:
                async with asyncio.timeout(seconds):
                    while True:
                        if self.process.returncode is not None:
                            raise AssertionError(
                                f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
                            )
                        try:
                            response = await http.get(f"{self.url}{self.ready_path}")
                            if response.status_code == 200:
                                return
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.1)
            except TimeoutError:
                raise AssertionError(f"{self.name} was not ready in {seconds} s:\n{self.log()}") from None

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a container or a machine dies."""
        await self._signal(signal.SIGKILL)

    async def stop(self) -> None:
        await self._signal(signal.SIGTERM)

    async def _signal(self, sig: int) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(sig)
        try:
            async with asyncio.timeout(20):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def log(self) -> str:
        """The end of the log of the latest start (for failure messages)."""
        return self.log_text()[-6000:] or "(no log)"

    def log_text(self) -> str:
        """The whole log of the latest start."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")


@asynccontextmanager
async def running(*processes: BotProcess) -> AsyncIterator[tuple[BotProcess, ...]]:
    """Start the processes together; SIGKILL whatever is still running at the end."""
    try:
        await asyncio.gather(*(p.start() for p in processes))
        yield processes
    finally:
        for p in processes:
            await p.kill()
