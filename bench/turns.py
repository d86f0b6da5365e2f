"""Benchmark: the cost of one command, against a bare botbuilder echo bot on the same stack.

    make bench                                   # after bench.timers
    .venv/bin/python -m bench.turns              # alone; --profile adds a profiled embedded pass

Three servers, one after the other, each a separate process on 127.0.0.1:

1. **echo**: `python -m bench.echo`, aiohttp + botbuilder's CloudAdapter, one small Adaptive Card per
   message (bench/echo.py): the floor any bot on this stack pays per activity.
2. **embedded**: `presence-bot serve` with a fresh data directory and no credentials, as `make run`: the
   simulated tenant runs inside the bot's process, so its CPU counts in the bot's.
3. **standalone**: `presence-bot simulator` in its own process and `presence-bot serve` pointed at it with
   the GRAPH_* variables it prints (msal's token flow, Graph over HTTP): the bot process does bot work only.

A connector stub in this process receives the replies at `serviceUrl`. 16 senders (one user each) post
Teams-shaped message activities, each waiting for its previous answer: a warm-up of 20 activities, then
the measured 320, the commands in turn (/busy 30m, /away 1h, /status …, /presence, /dnd 45m,
/available 20m; each sender's last is /busy 30m). A turn's latency is POST /api/messages → its response
(the bot has sent its reply to the connector by then). CPU per turn is the server process's user+system
time (/proc/<pid>/stat) over the measured phase, divided by the activities.

Then every command is checked as its user would see it: one reply per activity, in the sender's
conversation, a presence card (not an error card) whose headline (icon and label) shows the presence the
tenant has after that command: the state of the user's last state command (/status and /presence leave
it as it was), and after the last command the state the simulated tenant reports. A failed check exits
non-zero; the targets only print PASS/MISS.

All traffic stays on 127.0.0.1; every request has a timeout, the whole run a deadline, and the child
processes are always stopped. Their log lines go to files in a temporary directory (kept on failure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import ROOT, child_env, cpu_seconds, log, simulator, stop
from bot.config import SIM_TENANT_ID
from bot.core.net import bound_port, free_port
from bot.core.states import STATES, State, icon, teams_label
from bot.store.timers import percentile
from cards.icons import ALT_TEXT
from cards.presence import HEADLINE_ID

COMMANDS = (
    "/busy 30m",
    "/away 1h",
    "/status Out for lunch for 1h",
    "/presence",
    "/dnd 45m",
    "/available 20m",
)
FINAL = COMMANDS[0]  # every sender's last command
# The presence each command leaves the user at in the tenant, (availability, activity); None: unchanged.
SETS: dict[str, tuple[str, str] | None] = {
    "/busy 30m": STATES[State.BUSY].pair,
    "/away 1h": STATES[State.AWAY].pair,
    "/status Out for lunch for 1h": None,
    "/presence": None,
    "/dnd 45m": STATES[State.DND].pair,
    "/available 20m": STATES[State.AVAILABLE].pair,
}
SERVERS = ("echo", "embedded", "standalone")
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
BOT_ID = "28:00000000-0000-0000-0000-0000000000b0"
REQUEST_TIMEOUT = 30.0  # seconds, any one HTTP request
START_TIMEOUT = 90.0  # seconds, a server's first /healthz 200
TOP = 25  # profile lines printed
SAMPLE_RATE = 250  # py-spy samples a second
# Frames every sample of a thread passes through (the entry point, asyncio's loop, a thread's start):
# left out of the cumulative list, where they would only say 100 %.
_ENTRY_FRAMES = re.compile(
    r"^(<module> \(bot/cli\.py\)|main \(bot/cli\.py\)|_run_code|_run_module_as_main|run \(asyncio/runners|"
    r"Runner\.run|BaseEventLoop\.(run_forever|run_until_complete|_run_once)|Thread\.(run|_bootstrap))"
)

# The targets, against the echo bot (issue 16, "half the cost per command").
TARGET_CPU = 2.0  # standalone bot CPU per command ≤ 2.0 × echo
TARGET_P50 = 2.0  # embedded p50 ≤ 2.0 × echo
TARGET_THROUGHPUT = 0.5  # embedded throughput ≥ 0.5 × echo


# -- users and activities --------------------------------------------------------------------------
@dataclass(frozen=True)
class User:
    index: int

    @property
    def aad(self) -> str:  # the Graph user id the bot acts on (from.aadObjectId)
        return f"00000000-0000-4000-8000-{self.index:012d}"

    @property
    def teams_id(self) -> str:
        return f"29:bench-user-{self.index:04d}"

    @property
    def conversation_id(self) -> str:
        return f"a:bench-personal-{self.index:04d}"

    @property
    def name(self) -> str:
        return f"Bench User {self.index}"


def activity(user: User, text: str, service_url: str) -> dict[str, Any]:
    """A message activity shaped like Teams' in a personal chat."""
    return {
        "type": "message",
        "id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": user.teams_id, "name": user.name, "aadObjectId": user.aad},
        "conversation": {
            "conversationType": "personal",
            "tenantId": SIM_TENANT_ID,
            "id": user.conversation_id,
        },
        "recipient": {"id": BOT_ID, "name": "Presence Bot"},
        "locale": "en-US",
        "text": text,
        "textFormat": "plain",
        "channelData": {"tenant": {"id": SIM_TENANT_ID}},
        "entities": [{"type": "clientInfo", "locale": "en-US", "timezone": "UTC"}],
        "localTimezone": "UTC",
    }


def plan(users: Sequence[User], total: int, *, end_with: str | None) -> dict[User, list[str]]:
    """`total` commands spread over the users, each user's in the round-robin order of COMMANDS.

    With `end_with`, each user's sequence is rotated so that its last command is `end_with`; without,
    each user starts elsewhere in the list (a short warm-up still runs every command).
    """
    counts = {user: total // len(users) + (1 if user.index < total % len(users) else 0) for user in users}
    last = {user: COMMANDS.index(end_with) if end_with else user.index + counts[user] - 1 for user in users}
    return {
        user: [COMMANDS[(last[user] + 1 + i - count) % len(COMMANDS)] for i in range(count)]
        for user, count in counts.items()
        if count
    }


# -- the connector stub -------------------------------------------------------------------------------
@dataclass
class Sent:
    user: User
    text: str
    activity_id: str


@dataclass
class ConnectorStub:
    """Where the servers send their replies (`serviceUrl`): POST /v3/conversations/{id}/activities[/{to}]."""

    url: str = ""
    replies: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self._post)
        app.router.add_post("/v3/conversations/{conversation_id}/activities/{reply_to}", self._post)
        return app

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.json()
        reply_to = request.match_info.get("reply_to") or str(body.get("replyToId") or "")
        self.replies[reply_to].append((request.match_info["conversation_id"], body))
        return web.json_response({"id": f"reply-{next(self._ids)}"})


@asynccontextmanager
async def connector_stub() -> AsyncIterator[ConnectorStub]:
    stub = ConnectorStub()
    runner = web.AppRunner(stub.app(), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        stub.url = f"http://127.0.0.1:{bound_port(runner.addresses)}"
        yield stub
    finally:
        await runner.cleanup()


def shown_presence(body: dict[str, Any]) -> tuple[str, str] | str:
    """The presence a reply's card shows a user: (label, icon's alt text), or why it shows none.

    A presence card (cards/presence.py) has a headline (id `HEADLINE_ID`): Teams' icon for the state,
    then its label as Teams names it ("In a call"). An error card (cards/messages.py `error_card`) opens
    with its title in attention colour and has no headline.
    """
    contents = [a.get("content") for a in body.get("attachments") or [] if a.get("contentType") == CARD_TYPE]
    if len(contents) != 1 or not isinstance(contents[0], dict) or contents[0].get("type") != "AdaptiveCard":
        return "not one Adaptive Card"
    elements = list(_elements(contents[0].get("body") or []))
    blocks = [element for element in elements if element.get("type") == "TextBlock"]
    if not blocks:
        return "a card without text"
    if blocks[0].get("color") == "attention":
        return f"an error card: {blocks[0].get('text')!r}"
    headline = next((element for element in elements if element.get("id") == HEADLINE_ID), None)
    if headline is None:
        return f"not a presence card (no headline; starts {blocks[0].get('text')!r})"
    inner = list(_elements([headline]))
    labels = [str(element.get("text", "")) for element in inner if element.get("type") == "TextBlock"]
    images = [str(element.get("altText", "")) for element in inner if element.get("type") == "Image"]
    if len(labels) != 1 or len(images) != 1:
        return f"a headline without one icon and one label: {labels}, {images}"
    return labels[0], images[0]


def expected_presence(availability: str, activity: str) -> tuple[str, str]:
    """What a presence card shows for a Graph pair: (label, icon's alt text), as `shown_presence`."""
    return teams_label(availability, activity), ALT_TEXT[icon(availability, activity)]


def _elements(elements: Sequence[Any]) -> Iterator[dict[str, Any]]:
    """Every element of a card body, depth first (containers' items, column sets' columns)."""
    for element in elements:
        if not isinstance(element, dict):
            continue
        yield element
        yield from _elements(element.get("items") or [])
        yield from _elements(element.get("columns") or [])


# -- the servers ------------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    url: str  # http://127.0.0.1:port
    pid: int  # the process whose CPU is measured
    inspect_url: str | None  # the simulated tenant's control routes (…/_sim), None for echo
    other_pids: dict[str, int] = field(default_factory=dict)  # e.g. the standalone simulator


@dataclass
class Profiler:
    """How the profiled pass samples the bot: py-spy when installed, else cProfile inside the process."""

    output: Path
    py_spy: str | None
    _process: asyncio.subprocess.Process | None = None

    @staticmethod
    def pick(workdir: Path) -> Profiler:
        candidate = Path(sys.executable).with_name("py-spy")
        py_spy = str(candidate) if candidate.exists() else shutil.which("py-spy")
        return Profiler(workdir / ("profile.txt" if py_spy else "profile.pstats"), py_spy)

    def command(self, argv: list[str]) -> list[str]:
        """The server's command line (cProfile: wrapped so that only the measured phase is profiled)."""
        if self.py_spy:
            return argv
        return [sys.executable, "-m", "bench.turns", "_cprofile", str(self.output), *argv[3:]]

    async def start(self, pid: int, log_file: Path) -> None:
        if not self.py_spy:
            os.kill(pid, signal.SIGUSR1)
            return
        with log_file.open("ab") as sink:
            self._process = await asyncio.create_subprocess_exec(
                self.py_spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(SAMPLE_RATE),
                "--gil",  # the thread running Python: waits (epoll, queues, locks) are not counted
                "--format",
                "raw",
                "--output",
                str(self.output),
                stdout=sink,
                stderr=sink,
            )
        await asyncio.sleep(1.0)  # attached and sampling

    async def close(self) -> None:
        """Stop py-spy if it still runs (a pass that failed before `finish`)."""
        if self._process is not None:
            await stop(self._process, signal.SIGINT)

    async def finish(self, pid: int) -> None:
        if self._process is not None:
            await stop(self._process, signal.SIGINT)  # py-spy writes its samples on Ctrl-C
        else:
            os.kill(pid, signal.SIGUSR2)
        async with asyncio.timeout(30):
            while not await asyncio.to_thread(_written, self.output):  # noqa: ASYNC110 (a file, no event)
                await asyncio.sleep(0.1)
        if self._process is None:
            await asyncio.sleep(0.5)  # the dump is written in one go; let it finish


def _written(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


@asynccontextmanager
async def start_server(name: str, workdir: Path, profiler: Profiler | None = None) -> AsyncIterator[Server]:
    """One of SERVERS in child processes, ready (its /healthz answers 200); always stopped on exit."""
    async with contextlib.AsyncExitStack() as stack:
        home = workdir / name
        home.mkdir(parents=True)
        port = free_port()
        host = ["--host", "127.0.0.1", "--port", str(port)]
        sink = stack.enter_context((home / "server.log").open("wb"))
        other: dict[str, int] = {}
        env: dict[str, str]
        if name == "echo":
            argv = [sys.executable, "-m", "bench.echo", *host]
            env, inspect = child_env(None), None
        elif name == "embedded":
            argv = [sys.executable, "-m", "bot.cli", "serve", *host]
            env, inspect = child_env(home / "data"), f"http://127.0.0.1:{port}/sim/_sim"
        else:
            sim_log = stack.enter_context((home / "simulator.log").open("wb"))
            sim = await stack.enter_async_context(simulator(home, log_level="INFO", stderr=sim_log))
            argv = [sys.executable, "-m", "bot.cli", "serve", *host]
            env = child_env(home / "data", sim.environment)
            inspect = sim.environment["GRAPH_BASE_URL"].removesuffix("/v1.0") + "/_sim"
            other["simulator"] = sim.process.pid
        if profiler is not None:
            argv = profiler.command(argv)
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=home, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=sink
        )
        stack.push_async_callback(stop, process, signal.SIGTERM)
        url = f"http://127.0.0.1:{port}"
        await _wait_ready(url, process, home / "server.log")
        yield Server(name, url, process.pid, inspect, other)


async def _wait_ready(url: str, process: asyncio.subprocess.Process, log_file: Path) -> None:
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as http, asyncio.timeout(START_TIMEOUT):
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            if process.returncode is not None:
                tail = (await asyncio.to_thread(log_file.read_text, errors="replace"))[-2000:]
                raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
            await asyncio.sleep(0.05)


# -- one measured run ----------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    activities: int
    latencies: list[tuple[str, float]]  # (command, seconds): the measured phase's successful turns
    elapsed: float  # seconds, the measured phase
    cpu: float  # seconds of the server process over the measured phase
    other_cpu: dict[str, float]  # seconds of its other processes (the standalone simulator)
    bench_cpu: float  # seconds of this process (senders and connector stub) over the measured phase
    failures: list[str]

    @property
    def p50_ms(self) -> float:
        return self.p50_of(None)

    @property
    def p99_ms(self) -> float:
        values = [seconds for _, seconds in self.latencies]
        return percentile(values, 0.99) * 1000 if values else float("nan")

    def p50_of(self, command: str | None) -> float:
        """The p50 in ms of one command's turns (None: of all)."""
        values = [seconds for text, seconds in self.latencies if command in (None, text)]
        return percentile(values, 0.50) * 1000 if values else float("nan")

    @property
    def throughput(self) -> float:
        return self.activities / self.elapsed

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000 / self.activities


async def send_all(
    http: aiohttp.ClientSession,
    server: Server,
    stub: ConnectorStub,
    work: dict[User, list[str]],
    sent: list[Sent],
    failures: list[str],
) -> list[tuple[str, float]]:
    """One sender per user, each posting its commands one after the other; the turns' latencies."""
    latencies: list[tuple[str, float]] = []

    async def sender(user: User, texts: list[str]) -> None:
        for text in texts:
            body = activity(user, text, stub.url)
            sent.append(Sent(user, text, body["id"]))
            started = time.perf_counter()
            try:
                async with http.post(f"{server.url}/api/messages", json=body) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                failures.append(f"{user.teams_id} {text!r}: {type(error).__name__} {error}")
                continue
            if status not in (200, 201):
                failures.append(f"{user.teams_id} {text!r}: HTTP {status}")
                continue
            latencies.append((text, time.perf_counter() - started))

    await asyncio.gather(*(sender(user, texts) for user, texts in work.items()))
    return latencies


async def measure(
    name: str,
    workdir: Path,
    stub: ConnectorStub,
    *,
    senders: int,
    activities: int,
    warmup: int,
    profiler: Profiler | None = None,
) -> Result:
    users = [User(i) for i in range(senders)]
    sent: list[Sent] = []
    failures: list[str] = []
    stub.replies.clear()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=senders)
    async with (
        start_server(name, workdir, profiler) as server,
        aiohttp.ClientSession(timeout=timeout, connector=connector) as http,
        contextlib.AsyncExitStack() as cleanup,
    ):
        await send_all(http, server, stub, plan(users, warmup, end_with=None), sent, failures)
        if profiler is not None:
            cleanup.push_async_callback(profiler.close)
            await profiler.start(server.pid, workdir / name / "profiler.log")
        before = cpu_seconds(server.pid)
        others = {label: cpu_seconds(pid) for label, pid in server.other_pids.items()}
        mine = cpu_seconds(os.getpid())
        started = time.perf_counter()
        latencies = await send_all(
            http, server, stub, plan(users, activities, end_with=FINAL), sent, failures
        )
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(server.pid) - before
        other_cpu = {label: cpu_seconds(pid) - others[label] for label, pid in server.other_pids.items()}
        bench_cpu = cpu_seconds(os.getpid()) - mine
        if profiler is not None:
            await profiler.finish(server.pid)
        failures += check_replies(stub, sent, presence_cards=server.inspect_url is not None)
        if server.inspect_url is not None:
            tenant, problems = await read_tenant(http, server.inspect_url, users)
            failures += problems + check_presence(stub, sent, tenant)
    return Result(name, activities, latencies, elapsed, cpu, other_cpu, bench_cpu, failures)


def check_replies(stub: ConnectorStub, sent: list[Sent], *, presence_cards: bool) -> list[str]:
    """One reply per activity, in the sender's conversation, an Adaptive Card (with `presence_cards`, a
    presence card: see `shown_presence`), and nothing else."""
    problems: list[str] = []
    expected = {item.activity_id for item in sent}
    for item in sent:
        replies = stub.replies.get(item.activity_id, [])
        where = f"{item.user.teams_id} {item.text!r}"
        if len(replies) != 1:
            problems.append(f"{where}: {len(replies)} replies")
            continue
        conversation, body = replies[0]
        if conversation != item.user.conversation_id:
            problems.append(f"{where}: the reply went to conversation {conversation!r}")
        if presence_cards and isinstance(problem := shown_presence(body), str):
            problems.append(f"{where}: {problem}")
        elif not presence_cards and not _one_card(body):
            problems.append(f"{where}: not one Adaptive Card")
    strays = sum(len(v) for k, v in stub.replies.items() if k not in expected)
    if strays:
        problems.append(f"{strays} replies to no activity sent")
    return problems


def _one_card(body: dict[str, Any]) -> bool:
    contents = [a.get("content") for a in body.get("attachments") or [] if a.get("contentType") == CARD_TYPE]
    return len(contents) == 1 and isinstance(contents[0], dict) and contents[0].get("type") == "AdaptiveCard"


async def read_tenant(
    http: aiohttp.ClientSession, inspect_url: str, users: Sequence[User]
) -> tuple[dict[User, tuple[str, str]], list[str]]:
    """Each user's presence in the simulated tenant now, (availability, activity); and what failed."""
    found: dict[User, tuple[str, str]] = {}
    problems: list[str] = []
    for user in users:
        try:
            async with http.get(f"{inspect_url}/users/{user.aad}") as response:
                described = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            problems.append(f"{user.aad}: could not read the simulated tenant: {error}")
            continue
        presence = described.get("presence") or {}
        found[user] = (str(presence.get("availability")), str(presence.get("activity")))
    return found, problems


def check_presence(stub: ConnectorStub, sent: list[Sent], tenant: dict[User, tuple[str, str]]) -> list[str]:
    """Every presence card shows what the tenant shows after its command.

    Each user's commands ran one after the other, and each state command leaves the tenant showing its
    state (`SETS`; /status and /presence leave it as it was): so every card must show the state of the
    user's last state command before it (cards before a user's first state command are not compared).
    The model is checked against the tenant itself: after the last command, the tenant shows the state the
    model says (FINAL's), and so does that last card.
    """
    problems: list[str] = []
    by_user: dict[User, list[Sent]] = defaultdict(list)
    for item in sent:  # in each user's order: a sender waits for its previous answer
        by_user[item.user].append(item)
    for user, items in by_user.items():
        state: tuple[str, str] | None = None
        for item in items:
            state = SETS[item.text] or state
            replies = stub.replies.get(item.activity_id, [])
            shown = shown_presence(replies[0][1]) if len(replies) == 1 else None
            if state is None or not isinstance(shown, tuple):
                continue  # not compared, or already reported by check_replies
            if shown != (wanted := expected_presence(*state)):
                problems.append(
                    f"{user.teams_id} {item.text!r}: the card shows {shown[0]!r} ({shown[1]}), "
                    f"the tenant {wanted[0]!r} ({wanted[1]})"
                )
        if user not in tenant:
            continue  # reported by read_tenant
        if tenant[user] != state:
            problems.append(
                f"{user.aad}: the tenant shows {'/'.join(tenant[user])} after {items[-1].text!r}, "
                f"not {'/'.join(state or ('?', '?'))}"
            )
    return problems


# -- profiles -------------------------------------------------------------------------------------------
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _short(path: str) -> str:
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1].removeprefix(".11/")
    return path


_PACKAGES = {"core": "botbuilder", "connector": "botframework (connector)", "<sqlalchemy": "sqlalchemy"}


def _package(file: str) -> str:
    """A frame's package as py-spy shortens paths: `bot/store`, `sqlalchemy`, `asyncio`, `json`…"""
    parts = file.split("/")
    if parts[0] in ("bot", "cards") and len(parts) > 1:
        return "/".join(parts[:2]).removesuffix(".py")
    head = parts[0].removesuffix(".py")
    return _PACKAGES.get(head, head.strip("<>"))


def py_spy_table(path: Path, turns: int, cpu_ms_per_turn: float) -> list[str]:
    """Own and cumulative time per function from py-spy's raw (collapsed) stacks, in ms per turn."""
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        names = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            names.append(f"{match['function']} ({_short(match['file'])})" if match else frame)
        own[names[-1]] += count
        leaf = _FRAME.match(stack.rsplit(";", 1)[-1])
        packages[_package(_short(leaf["file"])) if leaf else "?"] += count
        for name in set(names):
            cumulative[name] += count
    if not total:
        return ["(no samples)"]
    sampled = total * 1000 / SAMPLE_RATE / turns  # ms per turn the samples stand for

    def row(name: str, count: int) -> str:  # its share of the samples, and that share of the CPU measured
        return f"{count / total * 100:5.1f} % {count / total * cpu_ms_per_turn:6.2f}  {name}"

    lines = [
        f"py-spy at {SAMPLE_RATE} Hz, the thread holding the GIL: {total} samples ({sampled:.1f} ms per turn "
        f"of wall time; the process used {cpu_ms_per_turn:.1f} ms of CPU per turn). Columns: share of the "
        "samples, that share of the CPU per turn in ms, then what. C code that releases the GIL (SQLite, "
        "sockets, TLS) is not sampled; on a busy machine a sample can fall while the OS runs another process."
    ]
    lines += ["", "own time by package (whose code was running)"]
    lines += [row(name, count) for name, count in packages.most_common(15)]
    lines += ["", f"top {TOP} functions by own time"]
    lines += [row(name, count) for name, count in own.most_common(TOP)]
    lines += ["", f"top {TOP} functions by cumulative time (entry frames left out)"]
    ranked = [(name, count) for name, count in cumulative.most_common() if not _ENTRY_FRAMES.match(name)]
    lines += [row(name, count) for name, count in ranked[:TOP]]
    return lines


def cprofile_table(path: Path, turns: int) -> list[str]:
    import pstats

    stats = pstats.Stats(str(path))
    rows: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    lines = [
        f"cProfile of the bot process's main thread over the measured phase ({turns} turns); a coroutine's "
        "cumulative time includes its awaits, and epoll's poll is the loop waiting"
    ]
    for title, index in (("own time", 2), ("cumulative time", 3)):
        lines += ["", f"top {TOP} by {title}: calls, own ms/turn, cumulative ms/turn, function"]
        ranked = sorted(rows.items(), key=lambda item: item[1][index], reverse=True)[:TOP]
        for (file, line, function), (_, calls, own, cumulative, _) in ranked:
            where = f"{_short(file)}:{line}" if line else file
            lines.append(
                f"{calls:8d} {own * 1000 / turns:6.2f} {cumulative * 1000 / turns:6.2f}  {function} ({where})"
            )
    return lines


def _serve_under_cprofile(output: str, argv: list[str]) -> None:
    """`presence-bot <argv>` with cProfile on between SIGUSR1 and SIGUSR2 (then written to `output`)."""
    import cProfile

    from bot.cli import main

    profiler = cProfile.Profile()

    def begin(*_: object) -> None:
        profiler.enable()

    def end(*_: object) -> None:
        profiler.disable()
        profiler.dump_stats(output)

    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, end)
    main(argv)


# -- the report ------------------------------------------------------------------------------------------
@dataclass
class Summary:
    """One server over the rounds: the median of each figure, and the rounds themselves."""

    name: str
    rounds: list[Result]

    def median(self, figure: str) -> float:
        return float(statistics.median(float(getattr(r, figure)) for r in self.rounds))

    def spread(self, figure: str, digits: int) -> str:
        values = sorted(getattr(r, figure) for r in self.rounds)
        return (
            f"{values[0]:.{digits}f}–{values[-1]:.{digits}f}"
            if len(values) > 1
            else f"{values[0]:.{digits}f}"
        )


def report(summaries: list[Summary]) -> list[str]:
    lines = [
        "",
        f"{'server':<12} | {'activities':>10} | {'p50 ms':>7} | {'p99 ms':>7} | {'throughput/s':>12} "
        f"| {'CPU ms/turn':>11}",
        f"{'-' * 12}-+-{'-' * 10}-+-{'-' * 7}-+-{'-' * 7}-+-{'-' * 12}-+-{'-' * 11}",
    ]
    for s in summaries:
        lines.append(
            f"{s.name:<12} | {s.rounds[0].activities:>10} | {s.median('p50_ms'):>7.1f} | "
            f"{s.median('p99_ms'):>7.1f} | {s.median('throughput'):>12.1f} | {s.median('cpu_ms'):>11.2f}"
        )
    rounds = len(summaries[0].rounds) if summaries else 0
    if rounds > 1:
        lines += ["", f"(medians of {rounds} rounds, the servers taking turns; ranges below)"]
    lines.append("")
    for s in summaries:
        note = " (includes the simulated tenant)" if s.name == "embedded" else ""
        others = "".join(
            f", {label} {statistics.median(r.other_cpu[label] * 1000 / r.activities for r in s.rounds):.2f}"
            for label in s.rounds[0].other_cpu
        )
        generator = statistics.median(r.bench_cpu * 1000 / r.activities for r in s.rounds)
        lines.append(
            f"{s.name}: p50 {s.spread('p50_ms', 0)} ms, p99 {s.spread('p99_ms', 0)} ms, "
            f"{s.spread('throughput', 1)}/s, CPU {s.spread('cpu_ms', 2)} ms/turn; "
            f"CPU ms/turn: server {s.median('cpu_ms'):.2f}{note}{others}, "
            f"load generator + connector stub {generator:.2f}"
        )
    lines += ["", "p50 ms per command:" + " " * 5 + "".join(f"{c.split()[0]:>11}" for c in COMMANDS)]
    for s in summaries:
        figures = [statistics.median(r.p50_of(command) for r in s.rounds) for command in COMMANDS]
        lines.append(f"  {s.name:<22}" + "".join(f"{figure:11.0f}" for figure in figures))
    by_name = {s.name: s for s in summaries}
    echo = by_name.get("echo")
    if echo is None:
        return lines

    def ratio(server: Summary, figure: str) -> float:
        return server.median(figure) / echo.median(figure)

    lines += ["", "vs echo:          p50 ×   throughput ×   CPU/turn ×"]
    for s in summaries:
        if s is not echo:
            lines.append(
                f"  {s.name:<14} {ratio(s, 'p50_ms'):5.2f}   {ratio(s, 'throughput'):12.2f}"
                f"   {ratio(s, 'cpu_ms'):10.2f}"
            )
    lines += ["", "targets (the issue's):"]
    if (standalone := by_name.get("standalone")) is not None:
        value = ratio(standalone, "cpu_ms")
        label = f"standalone bot CPU per command ≤ {TARGET_CPU}× echo"
        lines.append(_target(label, value, value <= TARGET_CPU))
    if (embedded := by_name.get("embedded")) is not None:
        value = ratio(embedded, "p50_ms")
        lines.append(_target(f"embedded p50 ≤ {TARGET_P50}× echo", value, value <= TARGET_P50))
        value = ratio(embedded, "throughput")
        label = f"embedded throughput ≥ {TARGET_THROUGHPUT}× echo"
        lines.append(_target(label, value, value >= TARGET_THROUGHPUT))
    return lines


def _target(label: str, ratio: float, met: bool) -> str:
    return f"  {'PASS' if met else 'MISS'}  {label}: {ratio:.2f}×"


def _verdict(result: Result) -> list[str]:
    if result.failures:
        lines = [f"VERIFICATION FAILED: {len(result.failures)} problems, e.g.:"]
        return lines + [f"  {problem}" for problem in result.failures[:10]]
    if result.name == "echo":
        return ["verified: one card per activity"]
    return [
        "verified: one presence card per activity, each showing the user's presence in the simulated "
        "tenant after its command"
    ]


async def run(args: argparse.Namespace, workdir: Path) -> bool:
    """Every server in turn, `args.rounds` times, then the profiled pass; True when all was verified."""
    summaries = {name: Summary(name, []) for name in args.servers}
    ok = True
    load = f"{args.warmup} warm-up + {args.activities} activities, {args.senders} senders"
    async with connector_stub() as stub:
        for round_number in range(1, args.rounds + 1):
            for name in args.servers:
                log(f"\n== {name}, round {round_number}/{args.rounds}: {load} ==")
                result = await measure(
                    name,
                    workdir / f"round-{round_number}",
                    stub,
                    senders=args.senders,
                    activities=args.activities,
                    warmup=args.warmup,
                )
                log(
                    f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, {result.throughput:.1f}/s, "
                    f"CPU {result.cpu_ms:.2f} ms/turn (load average {os.getloadavg()[0]:.1f})"
                )
                for line in _verdict(result):
                    log(line)
                ok = ok and not result.failures
                summaries[name].rounds.append(result)
        for line in report(list(summaries.values())):
            log(line)
        if args.profile:
            ok = await profiled(args, workdir / "profile", stub, load) and ok
    return ok


async def profiled(args: argparse.Namespace, workdir: Path, stub: ConnectorStub, load: str) -> bool:
    """One server once more (`--profile-server`, the embedded one by default), under a profiler; prints
    where its CPU went (the bot process's: in standalone, the simulator's is not sampled)."""
    profiler = Profiler.pick(workdir)
    tool = "py-spy" if profiler.py_spy else "cProfile (py-spy not installed)"
    log(f"\n== {args.profile_server} under {tool}: {load} ==")
    result = await measure(
        args.profile_server,
        workdir,
        stub,
        senders=args.senders,
        activities=args.activities,
        warmup=args.warmup,
        profiler=profiler,
    )
    log(
        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, {result.throughput:.1f}/s, "
        f"CPU {result.cpu_ms:.2f} ms/turn (profiled: slower than unprofiled)"
    )
    for line in _verdict(result):
        log(line)
    if profiler.py_spy:
        table = py_spy_table(profiler.output, result.activities, result.cpu_ms)
    else:
        table = cprofile_table(profiler.output, result.activities)
    log("")
    for line in table:
        log(line)
    return not result.failures


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.turns", description=__doc__.split("\n")[0])
    parser.add_argument("--activities", type=int, default=320, help="measured activities per server")
    parser.add_argument("--warmup", type=int, default=20, help="activities per server before measuring")
    parser.add_argument("--senders", type=int, default=16, help="concurrent senders, one user each")
    parser.add_argument(
        "--servers",
        type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
        default=list(SERVERS),
        help="comma-separated, from echo,embedded,standalone (default: all three)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="times each server is measured (median)")
    parser.add_argument("--profile", action="store_true", help="then an embedded pass under a profiler")
    parser.add_argument(
        "--profile-server", choices=SERVERS[1:], default="embedded", help="the server --profile samples"
    )
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole run")
    parser.add_argument("--keep", action="store_true", help="keep the logs and the raw profile")
    args = parser.parse_args(argv)
    if unknown := set(args.servers) - set(SERVERS):
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    if args.activities < args.senders or args.senders < 1 or args.rounds < 1:
        parser.error("need at least one round, one sender and one activity per sender")
    python = sys.version.split()[0]
    log(f"Presence Bot cost per command: Python {python}, {os.cpu_count()} CPUs")
    workdir = Path(tempfile.mkdtemp(prefix="presence-bot-turns-"))
    ok = False
    try:
        async with asyncio.timeout(args.deadline):
            ok = await run(args, workdir)
    finally:
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"\nlogs kept in {workdir}")
    log("\n" + json.dumps({"verified": ok, "finished": datetime.now(UTC).isoformat(timespec="seconds")}))
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["_cprofile"]:
        _serve_under_cprofile(sys.argv[2], sys.argv[3:])
    else:
        raise SystemExit(asyncio.run(main()))
