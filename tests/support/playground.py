"""The Microsoft 365 Agents Playground in front of Presence Bot: a harness for tests (and `make playground`).

    with running_playground(tmp_path) as playground:        # the bot (simulated tenant) + the Playground
        async with PlaygroundClient(playground) as client:  # the Playground's own API, no browser
            sent = await client.send(client.personal_chat, "/busy 30m")
            card = await client.next_card(sent)              # the bot's reply, as the Playground got it
            answer = await client.press(card, "Do not disturb 1h", as_user=client.me)
            presence = await client.presence_of(client.me)   # the simulated tenant, straight from the bot

The Playground (npm `@microsoft/m365agentsplayground`, from tests/js) plays Teams: it sends the bot the
activities Teams would (personal chat, group chat, channel, `adaptiveCard/action` invokes) and takes the
bot's replies on a mock Bot Connector. Its API, read from the installed package:

- `GET  /_internal/v1/config`: tenant, bot, current user, users, personal chat, group chats, teams.
- `WS   /_ws_conversation/v1/conversations/stream`: `{action: "createMessage" | "updateMessage",
  actionConversationId, message: {messageId, from, text, attachments…}}` for each bot message. A bot
  message with text and a card arrives as two messages (`<id>` with the text, `<id>-<suffix>` with the card).
- `POST /_conversation/v1/conversations/{id}/messages` `{from: {id}, text, textFormat, mentions?}`:
  the current user says something (`from` must be a member; the Playground sends as the current user).
  To a channel it starts a post, whose id (`<channel>;messageid=<n>`) the answer gives as
  `postConversationId`: the bot's replies go to that post.
- `POST /_conversation/v1/invoke` `{name: "adaptiveCard/action", from: {id}, conversation: {id},
  replyToId: <card message id>, value: {action, trigger}}`: press an `Action.Execute` button as any member;
  answers `{type, value}` from the bot's invoke response and replaces the card it stored.
- `GET  /_internal/v1/customActivities/template?conversationId=&type=botAdded` and
  `POST /_internal/v1/customActivities`: send a mocked activity (install, members added…).

Both processes run in their own process group on 127.0.0.1 (free ports unless given; the Playground,
which would listen on every interface, is held to loopback by tests/js/loopback-only.cjs), their output
in log files under the work folder (shown when something fails), and are stopped (SIGTERM, then SIGKILL)
on exit. `python -m tests.support.playground` (`make playground`) runs both until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import httpx
import pytest

from bot.core.net import free_port
from tests.support.nodejs import node_tools

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / ".m365agentsplayground.yml"
CARD = "application/vnd.microsoft.card.adaptive"
STARTUP_TIMEOUT = 60.0  # seconds for each process to answer
REPLY_TIMEOUT = 30.0  # seconds for the bot's reply (its own budget for a command is 12 s)
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
# What the child processes must not inherit: Graph credentials (the bot must use its simulated tenant)
# and proxies (everything here is loopback).
_SCRUBBED = re.compile(
    r"^(MicrosoftApp\w*|GRAPH_\w+|PRESENCE_BOT_\w+|ALLOWED_TENANTS|https?_proxy|all_proxy)$", re.IGNORECASE
)


class HarnessError(RuntimeError):
    """The bot or the Playground did not start, or stopped answering."""


def _child_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not _SCRUBBED.match(key)}
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    env.update(extra)
    return env


@dataclass
class Child:
    """A process in its own process group, its output in `log`."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Child:
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches its children too
            )
        return cls(name, process, log)

    def output(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise HarnessError(f"{self.name} exited with {code}:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def _wait_until(child: Child, ready: Any, what: str, timeout: float) -> Any:
    """Poll `ready()` until it returns something truthy, the child dies, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.check_alive()
        with contextlib.suppress(httpx.HTTPError, OSError):
            found = ready()
            if found:
                return found
        time.sleep(0.2)
    raise HarnessError(f"{child.name} did not {what} within {timeout:.0f} s:\n{child.output()}")


def bot_command() -> list[str]:
    """`presence-bot serve` from the running interpreter's environment (the project's .venv)."""
    script = Path(sys.executable).with_name("presence-bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def start_bot(work: Path, *, port: int | None = None, timeout: float = STARTUP_TIMEOUT) -> tuple[Child, str]:
    """The bot on a loopback port (a free one by default) with its simulated tenant in `work/bot-data`;
    waits for /healthz."""
    port = port or free_port()
    data = work / "bot-data"
    data.mkdir(parents=True, exist_ok=True)
    env = _child_env(PRESENCE_BOT_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    command = [*bot_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    child = Child.start("presence-bot", command, cwd=work, env=env, log=work / "bot.log")
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(
            child, lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200, "answer", timeout
        )
    except BaseException:
        child.stop()
        raise
    return child, url


def playground_command(bot_url: str, port: int) -> list[str]:
    tools = node_tools()
    cli = tools.js_dir / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
    return [
        tools.node,
        *("--require", str(tools.js_dir / "loopback-only.cjs")),  # listen on, and talk to, loopback only
        str(cli),
        *("-e", f"{bot_url}/api/messages", "-c", "msteams", "-p", str(port)),
        "--disable-telemetry",
    ]


def playground_env(log_dir: Path) -> dict[str, str]:
    """No browser of its own, our config file, its log and recordings kept out of the work tree."""
    return _child_env(
        TEAMSAPPTESTER_BROWSER="none",
        M365_AGENTS_PLAYGROUND_CONFIG_PATH=str(CONFIG),
        M365_AGENTS_PLAYGROUND_LOGFILE=str(log_dir / "m365agentsplayground.log"),
        M365_AGENTS_PLAYGROUND_RECORDING_FILE=str(log_dir / "m365agentsplayground-recording.json"),
    )


def start_playground(
    bot_url: str, work: Path, *, port: int | None = None, timeout: float = STARTUP_TIMEOUT
) -> tuple[Child, str]:
    """The Playground on a loopback port (a free one by default), pointed at the bot; waits for its
    config API."""
    wanted = port or free_port()
    child = Child.start(
        "agentsplayground",
        playground_command(bot_url, wanted),
        cwd=work,
        env=playground_env(work),
        log=work / "playground.log",
    )

    def listening() -> int | None:
        # It moves to another port when the one asked for is taken, and says which.
        found = re.search(r"Listening on (\d+)", child.output(100_000))
        return int(found.group(1)) if found else None

    try:
        port = _wait_until(child, listening, "listen", timeout)
        url = f"http://127.0.0.1:{port}"
        # /config also waits (up to 15 s) until the bot's endpoint answers.
        _wait_until(
            child,
            lambda: httpx.get(f"{url}/_internal/v1/config", timeout=20).status_code == 200,
            "serve its config",
            timeout,
        )
    except BaseException:
        child.stop()
        raise
    return child, url


@dataclass(frozen=True)
class Playground:
    url: str  # the Playground: its UI and API, http://127.0.0.1:<port>
    bot_url: str  # the bot: /api/messages, /healthz, /sim/…
    work: Path
    bot: Child
    playground: Child

    def logs(self) -> str:
        return f"--- bot ---\n{self.bot.output()}\n--- playground ---\n{self.playground.output()}"


@contextlib.contextmanager
def running_playground(
    work: Path,
    *,
    bot_port: int | None = None,
    port: int | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> Iterator[Playground]:
    """The bot and the Playground pointed at it (on free ports unless given), both stopped on exit,
    whatever happens."""
    work.mkdir(parents=True, exist_ok=True)
    node_tools()  # Node and the npm packages first: skip (or fail under CI) before starting anything
    bot, bot_url = start_bot(work, port=bot_port, timeout=timeout)
    try:
        playground, url = start_playground(bot_url, work, port=port, timeout=timeout)
        try:
            yield Playground(url=url, bot_url=bot_url, work=work, bot=bot, playground=playground)
        finally:
            playground.stop()
    finally:
        bot.stop()


# -- the Playground's API -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A message the current user sent, and where the bot's replies to it go."""

    message_id: str
    conversation_id: str  # the chat or channel it was sent to
    thread_id: str  # where replies land: the same chat, or the channel post it started
    mark: int  # how many bot messages the client had seen before sending it


@dataclass(frozen=True)
class BotMessage:
    message_id: str
    conversation_id: str  # the chat, or the channel post
    from_id: str
    text: str | None
    card: dict[str, Any] | None  # the Adaptive Card it carries, if any

    def button(self, title: str) -> dict[str, Any]:
        """The card-level action titled `title`."""
        for action in (self.card or {}).get("actions", []):
            if action.get("title") == title:
                return dict(action)
        raise KeyError(f"no button {title!r} on the card: {card_texts(self.card)}")


def card_texts(card: Any) -> list[str]:
    """Every TextBlock's text in a card, depth first."""
    if isinstance(card, list):
        return [text for item in card for text in card_texts(item)]
    if not isinstance(card, dict):
        return []
    found = [str(card["text"])] if card.get("type") == "TextBlock" and "text" in card else []
    for key in ("body", "items", "columns"):
        found += card_texts(card.get(key, []))
    return found


class PlaygroundClient:
    """The Playground's HTTP and websocket API, as a browser-less Teams client (see the module doc)."""

    def __init__(self, playground: Playground) -> None:
        self.playground = playground
        self.config: dict[str, Any] = {}
        self.messages: list[BotMessage] = []  # every message the websocket reported, in order
        self._changed = asyncio.Condition()
        self._session: aiohttp.ClientSession | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REPLY_TIMEOUT))
        try:
            self.config = await self._get_json(f"{self.playground.url}/_internal/v1/config")
            ws = await self._session.ws_connect(
                f"{self.playground.url}/_ws_conversation/v1/conversations/stream"
            )
            self._reader = asyncio.create_task(self._read(ws))
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use `async with PlaygroundClient(...)`"
        return self._session

    # -- who and where, from the Playground's config --------------------------------------------

    @property
    def bot(self) -> dict[str, Any]:
        return dict(self.config["config"]["bot"])

    @property
    def me(self) -> dict[str, Any]:
        """The current user: every message is sent as them."""
        return dict(self.config["config"]["currentUser"])

    def user(self, name: str) -> dict[str, Any]:
        for user in [self.me, *self.config["config"]["users"]]:
            if user["name"] == name:
                return dict(user)
        raise KeyError(name)

    @property
    def personal_chat(self) -> str:
        return str(self.config["config"]["personalChat"]["id"])

    @property
    def group_chat(self) -> str:
        return str(self.config["config"]["groupChats"][0]["id"])

    def channel(self, name: str) -> str:
        for team in self.config["config"]["teams"]:
            for channel in team["channels"]:
                if channel["name"] == name:
                    return str(channel["id"])
        raise KeyError(name)

    # -- talking ------------------------------------------------------------------------------

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        mention_bot: bool = False,
        mentions: Sequence[dict[str, Any]] = (),
    ) -> Sent:
        """The current user sends `text`; with `mention_bot`, after an @mention of the bot as Teams
        sends it (`<at>Presence Bot</at>` in the text, a mention entity alongside). Each `{}` in `text`
        becomes an @mention of the next of `mentions` (Playground users)."""
        tags = [f"<at>{user['name']}</at>" for user in mentions]
        body: dict[str, Any] = {
            "from": {"id": self.me["id"]},
            "text": text.format(*tags),
            "textFormat": "plain",
        }
        body["mentions"] = [
            {"mentioned": {"id": user["id"], "name": user["name"]}, "text": tag}
            for user, tag in zip(mentions, tags, strict=True)
        ]
        if mention_bot:
            at = f"<at>{self.bot['name']}</at>"
            body["text"] = f"{at} {body['text']}"
            body["mentions"].insert(0, {"mentioned": {"id": self.bot["id"]}, "text": at})
        if not body["mentions"]:
            del body["mentions"]
        mark = len(self.messages)
        answer = await self._post_json(
            f"{self.playground.url}/_conversation/v1/conversations/{conversation_id}/messages", body
        )
        thread = str(answer.get("postConversationId") or conversation_id)
        return Sent(str(answer["messageId"]), conversation_id, thread, mark)

    async def next_card(self, after: Sent, *, within: float = REPLY_TIMEOUT) -> BotMessage:
        """The bot's first message with an Adaptive Card in reply to `after`."""
        return await self.card_in(after.thread_id, since=after.mark, within=within)

    async def card_in(self, thread_id: str, *, since: int = 0, within: float = REPLY_TIMEOUT) -> BotMessage:
        """The first bot message with a card in `thread_id` among the messages from number `since` on."""

        def found() -> BotMessage | None:
            for message in self.messages[since:]:
                if (
                    message.conversation_id == thread_id
                    and message.from_id == self.bot["id"]
                    and message.card
                ):
                    return message
            return None

        try:
            async with asyncio.timeout(within), self._changed:
                while (message := found()) is None:
                    if self._reader is None or self._reader.done():
                        raise HarnessError("the Playground's websocket closed")
                    await self._changed.wait()
                return message
        except TimeoutError:
            said = [m.text or card_texts(m.card) for m in self.messages[since:]]
            raise HarnessError(
                f"no card from the bot in {thread_id} within {within:.0f} s; it said: {said}\n"
                + self.playground.logs()
            ) from None

    async def press(self, card: BotMessage, title: str, *, as_user: dict[str, Any]) -> dict[str, Any]:
        """Press the card's `Action.Execute` button `title` as `as_user`: the `adaptiveCard/action`
        invoke Teams sends. Returns the invoke response `{type, value}` (value: the new card)."""
        action = card.button(title)
        if action.get("type") != "Action.Execute":
            raise ValueError(f"{title!r} is a {action.get('type')}, not an Action.Execute")
        action.pop("fallback", None)  # Teams sends the action as pressed, without its fallback
        body = {
            "name": "adaptiveCard/action",
            "from": {"id": as_user["id"]},
            "conversation": {"id": card.conversation_id},
            "replyToId": card.message_id,
            "value": {"action": action, "trigger": "manual"},
        }
        return dict(await self._post_json(f"{self.playground.url}/_conversation/v1/invoke", body))

    async def mock_activity(self, conversation_id: str, kind: str) -> int:
        """Send one of the Playground's mocked activities (`botAdded`, `install`, `userAdded`…);
        returns the mark to look for the bot's answer from (see `card_in`)."""
        template = await self._get_json(
            f"{self.playground.url}/_internal/v1/customActivities/template",
            params={"conversationId": conversation_id, "type": kind},
        )
        mark = len(self.messages)
        await self._post_json(
            f"{self.playground.url}/_internal/v1/customActivities", template, expect_json=False
        )
        return mark

    # -- the simulated tenant, straight from the bot -----------------------------------------------

    async def presence_of(self, user: dict[str, Any]) -> dict[str, Any]:
        """The user's presence as the bot's simulated tenant holds it (`availability`, `activity`…)."""
        state = await self._get_json(f"{self.playground.bot_url}/sim/_sim/users/{user['aadObjectId']}")
        return dict(state["presence"])

    # -- plumbing -----------------------------------------------------------------------------------

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async with ws:
            async for frame in ws:
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    continue
                event = json.loads(frame.data)
                if event.get("action") not in {"createMessage", "updateMessage"}:
                    continue
                message = event["message"]
                card = next(
                    (
                        a.get("content")
                        for a in message.get("attachments", [])
                        if a.get("contentType") == CARD
                    ),
                    None,
                )
                async with self._changed:
                    self.messages.append(
                        BotMessage(
                            message_id=str(message["messageId"]),
                            # a channel post's first message comes on the channel, naming its post
                            conversation_id=message.get("postConversationId")
                            or event["actionConversationId"],
                            from_id=str(message.get("from", {}).get("id")),
                            text=message.get("text"),
                            card=card,
                        )
                    )
                    self._changed.notify_all()

    async def _get_json(self, url: str, *, params: dict[str, str] | None = None) -> Any:
        async with self.session.get(url, params=params) as response:
            if response.status != 200:
                raise HarnessError(f"GET {url}: {response.status} {await response.text()}")
            return await response.json()

    async def _post_json(self, url: str, body: Any, *, expect_json: bool = True) -> Any:
        async with self.session.post(url, json=body) as response:
            if response.status != 200:
                raise HarnessError(f"POST {url}: {response.status} {await response.text()}")
            return await response.json(content_type=None) if expect_json else None


# -- `make playground` ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the bot and the Playground until Ctrl-C (or until one of them stops)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.playground",
        description="Presence Bot (simulated tenant) behind the Microsoft 365 Agents Playground.",
    )
    parser.add_argument("--bot-port", type=int, default=3978, help="the bot's port (default: 3978)")
    parser.add_argument("--port", type=int, default=56150, help="the Playground's port (default: 56150)")
    parser.add_argument(
        "--work",
        type=Path,
        default=REPO / ".presence-bot" / "playground",
        help="logs and the simulated tenant's state (default: .presence-bot/playground)",
    )
    args = parser.parse_args(argv)

    def stop(signum: int, _frame: object) -> None:
        # SIGTERM (a `kill`, a terminal closing, make stopped) ends the run like Ctrl-C does, so the
        # `with` below stops the bot and the Playground instead of leaving them running.
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        with running_playground(args.work, bot_port=args.bot_port, port=args.port) as running:
            me = httpx.get(f"{running.url}/_internal/v1/config", timeout=20).json()["config"]["currentUser"]
            print(f"Presence Bot (simulated tenant) on {running.bot_url}/api/messages", flush=True)
            print(f"Microsoft 365 Agents Playground: open {running.url} and type /busy 30m", flush=True)
            print(
                f"{me['name']}'s presence: {running.bot_url}/sim/_sim/users/{me['aadObjectId']}", flush=True
            )
            print(f"Logs in {args.work}; Ctrl-C stops both.", flush=True)
            while True:
                running.bot.check_alive()
                running.playground.check_alive()
                time.sleep(1)
    except KeyboardInterrupt:
        print("Stopped.")
        return 0
    except HarnessError as error:
        print(error, file=sys.stderr)
        return 1
    except (pytest.skip.Exception, pytest.fail.Exception) as why:  # Node or the npm packages are missing
        print(why, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())


def headline(card: Any) -> tuple[str, str]:
    """The presence card's headline as Teams shows it: (the label, the icon's description), e.g.
    ("In a call", "Red dot")."""
    found: list[dict[str, Any]] = []

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            if node.get("id") == "headline":
                found.append(node)
            for key in ("body", "items", "columns"):
                visit(node.get(key, []))

    visit(card)
    assert len(found) == 1, f"{len(found)} headlines: {card_texts(card)}"
    icon = next(
        item for column in found[0]["columns"] for item in column["items"] if item.get("type") == "Image"
    )
    (label,) = card_texts(found[0])
    return label, str(icon["altText"])
