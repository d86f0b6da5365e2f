"""What the benchmarks share: printing, stopping a child process, its CPU time, the standalone simulator."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]
_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(message, flush=True)


async def stop(process: asyncio.subprocess.Process, sig: int, grace: float = 30.0) -> None:
    """Ask a child process to stop; kill it if it has not within `grace` seconds."""
    if process.returncode is not None:
        return
    try:
        process.send_signal(sig)
        async with asyncio.timeout(grace):
            await process.wait()
    except ProcessLookupError:  # it had just exited
        await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, in seconds (Linux /proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": fields 3 (state) onwards
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 (utime) and 15 (stime)


def child_env(data_dir: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment less any bot configuration (a fresh data dir, no credentials), plus `extra`."""
    prefixes = ("GRAPH_", "Microsoft", "MICROSOFT_", "PRESENCE_BOT_", "DATABASE_URL", "ALLOWED_TENANTS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    if data_dir is not None:
        env["PRESENCE_BOT_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


@dataclass
class SimulatorProcess:
    """`presence-bot simulator` in a child process, and the GRAPH_* variables that point a bot at it."""

    process: asyncio.subprocess.Process
    environment: dict[str, str]

    def bot_settings(self, data_dir: Path, database_url: str | None) -> Settings:
        """Settings for a bot (or its parts) talking to this simulator as to real Graph."""
        env = self.environment
        return Settings(
            _env_file=None,
            graph={
                "client_id": env["GRAPH_CLIENT_ID"],
                "client_secret": env["GRAPH_CLIENT_SECRET"],
                "base_url": env["GRAPH_BASE_URL"],
                "authority_host": env["GRAPH_AUTHORITY_HOST"],
                "ca_bundle": Path(env["GRAPH_CA_BUNDLE"]),
                "tenant_id": env["GRAPH_TENANT_ID"],
            },
            store={"data_dir": data_dir, "database_url": database_url},
            logging={"level": "WARNING"},
        )


@asynccontextmanager
async def simulator(
    workdir: Path, *, log_level: str = "WARNING", stderr: IO[bytes] | int = asyncio.subprocess.DEVNULL
) -> AsyncIterator[SimulatorProcess]:
    """The standalone simulated tenant on any free loopback port; always stopped on exit."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(workdir / "simulator"),
        cwd=ROOT,
        env={**os.environ, "PRESENCE_BOT_LOG_LEVEL": log_level},
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )
    environment: dict[str, str] = {}
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            while "GRAPH_TENANT_ID" not in environment:
                line = (await process.stdout.readline()).decode()
                if not line:
                    raise RuntimeError("the simulator exited before printing its variables")
                if line.startswith("export "):
                    name, _, value = line[len("export ") :].strip().partition("=")
                    environment[name] = value.strip("'")
        yield SimulatorProcess(process, environment)
    finally:
        await stop(process, signal.SIGINT)
