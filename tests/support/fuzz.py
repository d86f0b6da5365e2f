"""A seeded generator of hostile and odd Bot Framework requests for tests/processes/test_fuzz.py.

Each case is (body bytes, headers). Shapes, types, sizes, encodings, unicode (lone surrogates, RTL,
emoji, NUL), odd time zones and service URLs, invoke names, nesting and missing fields. Service URLs
are the local connector, a closed loopback port, or strings that are not URLs: never a real host.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from tests.support.builders import BOT_ID, activity

Case = tuple[bytes, dict[str, str]]
JSON = {"Content-Type": "application/json"}

COMMANDS = [
    "/busy 30m", "/dnd 1h", "/call", "/brb", "/away 20m", "/available", "/presence", "/status Out for lunch",
    "/status clear", "/reset", "/clear", "/help", "/timezone Europe/Berlin", "/timezone Mars/Olympus",
    "/notify off", "/notify on", "busy until 5pm", "/busy for -5m", "/busy 99999999999999999999m",
    "/dnd until yesterday", "/presenting 45 min", "conference 1h30m", "whoami", "hello", "",
    "<at>Test Bot</at> /busy 10m", "set my status to Working from home",
]  # fmt: skip
ODD_TEXT = [
    "مرحبا /busy 30m", "\u202e/busy 30m", "/status 😀🎉👩‍👩‍👧‍👦", "/status שלום עולם", "/busy\x00 30m",
    "/status \ud800 lone", "/status \udfff", "\x07\x1b[31m/busy", "/status " + "x" * 281,
    "/busy " + "9" * 5000, "/status " + "ab" * 3000, "   ", "\n\n/busy\n30m",
    "/status <script>alert(1)</script>", "/status &amp;&lt;",
    "/timezone " + "A" * 300, "/busy " + "1h" * 900, "\ufeff/busy 30m", "/status \u200b\u200b", "/busy 3０m",
]  # fmt: skip
ZONES = ["UTC", "Europe/Berlin", "America/Argentina/ComodRivadavia", "", "Not/AZone", "../../etc/passwd",
         "A" * 5000, "\x00", "Europe/Berlin\x00", "\ud800", 42, None, ["UTC"], {"zone": "UTC"}]  # fmt: skip
INVOKES = ["adaptiveCard/action", "composeExtension/query", "composeExtension/submitAction", "task/fetch",
           "task/submit", "signin/verifyState", "signin/tokenExchange", "fileConsent/invoke", "healthCheck",
           "actionableMessage/executeAction", "config/fetch", "tab/fetch", "message/submitAction", "",
           "unknown/thing", "x" * 3000, "\ud800"]  # fmt: skip
TYPES = ["messageReaction", "event", "typing", "installationUpdate", "messageUpdate", "messageDelete",
         "endOfConversation", "conversationUpdate", "invoke", "message", "trace", "handoff", "unknownType",
         "MESSAGE", ""]  # fmt: skip
WEIRD = [None, 0, -1, 2**70, 1.5, True, "", "x", [], {}, [None], {"a": None}, "\x00", "\ud800", "😀" * 100]


class Fuzzer:
    def __init__(self, seed: int, connector_url: str, closed_url: str, users: int = 300) -> None:
        self.rng = random.Random(seed)
        self.connector_url = connector_url
        self.closed_url = closed_url
        self.users = [f"fuzz-user-{i:04d}" for i in range(users)]
        self._makers: list[tuple[float, Callable[[], Case]]] = [
            (30, self.message),
            (10, self.odd_message),
            (10, self.invoke),
            (6, self.conversation_update),
            (8, self.other_type),
            (12, self.mutated),
            (8, self.missing_fields),
            (5, self.raw_garbage),
            (4, self.encoded),
            (4, self.nested),
            (3, self.big),
        ]

    def cases(self, count: int) -> Iterator[Case]:
        weights = [w for w, _ in self._makers]
        makers = [m for _, m in self._makers]
        for _ in range(count):
            yield self.rng.choices(makers, weights)[0]()

    # -- building blocks ------------------------------------------------------------------------
    def pick(self, values: list[Any]) -> Any:
        """One of `values`, copied: a case may change it, and the next case must not see that."""
        return copy.deepcopy(self.rng.choice(values))

    def service_url(self) -> str:
        roll = self.rng.random()
        if roll < 0.94:
            return self.connector_url
        if roll < 0.945:
            return self.closed_url  # refused: the reply fails after its retries
        return self.rng.choice(
            ["not a url", "", "javascript:alert(1)", "ftp://127.0.0.1/x", "http://", "//", "http://[::1",
             "http://127.0.0.1:99999", "https://\u202e.example", "\x00", "http://127.0.0.1:1/" + "a" * 3000]
        )  # fmt: skip

    def base(self, text: str | None, **extra: Any) -> dict[str, Any]:
        body = activity(
            text,
            service_url=self.service_url(),
            aad=self.rng.choice(self.users),
            user_id=f"29:{self.rng.randrange(10**6)}",
            conversation_id=f"a:conv-{self.rng.randrange(300)}",
            time_zone=self.rng.choice(["UTC", "Europe/Berlin", "Asia/Kolkata"]),
            id=f"fuzz-{self.rng.randrange(10**12)}",  # seeded too: a rerun sends the same bytes
            **extra,
        )
        if self.rng.random() < 0.1:
            body["localTimezone"] = self.pick(ZONES)
        if self.rng.random() < 0.05:
            body["entities"] = [{"type": "clientInfo", "timezone": self.pick(ZONES)}] * self.rng.randint(
                0, 200
            )
        if self.rng.random() < 0.03:
            body["deliveryMode"] = "expectReplies"
        return body

    @staticmethod
    def encode(body: Any, headers: dict[str, str] | None = None) -> Case:
        return json.dumps(body).encode(), {**JSON, **(headers or {})}

    # -- case makers ------------------------------------------------------------------------------
    def message(self) -> Case:
        return self.encode(self.base(self.rng.choice(COMMANDS)))

    def odd_message(self) -> Case:
        text = self.rng.choice(ODD_TEXT)
        if self.rng.random() < 0.3:
            text = "".join(chr(self.rng.randrange(0x0, 0x2FFFF)) for _ in range(self.rng.randint(1, 60)))
        return self.encode(self.base(text, user_name=self.rng.choice(["Alex", "\ud800", "ا" * 300, "\x00"])))

    def invoke(self) -> Case:
        name = self.rng.choice(INVOKES)
        value: Any = self.rng.choice(
            [
                {"action": {"verb": "command", "data": {"command": self.rng.choice(COMMANDS)}}},
                {"action": {"verb": "command", "data": {"command": self.rng.choice(ODD_TEXT)}}},
                {"action": {"verb": "other", "data": None}},
                {"action": "x"},
                *WEIRD,
            ]
        )  # fmt: skip
        body = self.base(None, kind="invoke", value=copy.deepcopy(value))
        if self.rng.random() < 0.9:
            body["name"] = name
        return self.encode(body)

    def conversation_update(self) -> Case:
        members: Any = self.rng.choice(
            [[None], [{"id": BOT_ID}], [None, {"id": BOT_ID}], [{"id": "29:someone"}], [{}], [1, "x"],
             [{"id": None}], [{"id": BOT_ID}] * 3000, None, "members", [[{"id": BOT_ID}]]]
        )  # fmt: skip
        body = self.base(None, kind="conversationUpdate", membersAdded=members)
        if self.rng.random() < 0.3:
            body["membersRemoved"] = self.rng.choice([[None], [{"id": BOT_ID}], "x"])
        return self.encode(body)

    def other_type(self) -> Case:
        body = self.base(self.rng.choice([None, *COMMANDS]), kind=self.rng.choice(TYPES))
        body["name"] = self.rng.choice(INVOKES)
        body["value"] = self.pick(WEIRD)
        return self.encode(body)

    def _paths(self, body: dict[str, Any]) -> list[tuple[Any, Any]]:
        found: list[tuple[Any, Any]] = []
        stack: list[Any] = [body]
        while stack:
            node = stack.pop()
            keys = (
                list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
            )
            for key in keys:
                found.append((node, key))
                stack.append(node[key])
        return found

    def mutated(self) -> Case:
        body = self.base(self.rng.choice(COMMANDS + ODD_TEXT), kind=self.rng.choice(["message", "invoke"]))
        for _ in range(self.rng.randint(1, 4)):
            node, key = self.rng.choice(self._paths(body))
            node[key] = self.pick(WEIRD)
        return self.encode(body)

    def missing_fields(self) -> Case:
        body = self.base(
            self.rng.choice(COMMANDS), kind=self.rng.choice(["message", "invoke", "conversationUpdate"])
        )
        for _ in range(self.rng.randint(1, 5)):
            node, key = self.rng.choice(self._paths(body))
            if isinstance(node, dict):
                del node[key]
        return self.encode(body)

    def raw_garbage(self) -> Case:
        choice = self.rng.randrange(8)
        if choice == 0:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(0, 300))), dict(JSON)
        if choice == 1:
            return b'{"type": "message", "text": "/busy', dict(JSON)
        if choice == 2:
            return b"", dict(JSON)
        if choice == 3:
            return json.dumps(self.base("/busy 30m")).encode(), {"Content-Type": "text/plain"}
        if choice == 4:
            return b"null", dict(JSON)
        if choice == 5:
            return json.dumps(self.rng.choice(WEIRD)).encode(), dict(JSON)
        if choice == 6:
            return json.dumps(self.base("/busy")).encode("utf-16"), dict(JSON)
        return b'{"type": "message", "text": "\\ud800", "from": {"id": "\\u0000"}}', dict(JSON)

    def encoded(self) -> Case:
        raw = json.dumps(self.base(self.rng.choice(COMMANDS))).encode()
        choice = self.rng.randrange(6)
        if choice == 0:
            return _gzip(raw), {**JSON, "Content-Encoding": "gzip"}
        if choice == 1:
            return zlib.compress(raw), {**JSON, "Content-Encoding": "deflate"}
        if choice == 2:
            return raw[: len(raw) // 2] + b"garbage", {**JSON, "Content-Encoding": "gzip"}
        if choice == 3:
            return _gzip(b" " * 3_000_000 + raw), {**JSON, "Content-Encoding": "gzip"}
        if choice == 4:
            return raw, {
                **JSON,
                "Content-Encoding": self.rng.choice(["br", "zstd", "compress", "x-odd", "gzip, gzip"]),
            }
        return _gzip(_gzip(raw)), {**JSON, "Content-Encoding": "gzip"}

    def nested(self) -> Case:
        depth = self.rng.choice([10, 60, 63, 65, 100, 500, 50_000])
        if depth <= 500:
            inner: Any = "leaf"
            for _ in range(depth):
                inner = {"a": inner}
            body = self.base("/busy 30m", kind=self.rng.choice(["message", "invoke"]), value=inner)
            return json.dumps(body).encode(), dict(JSON)
        return b"[" * depth + b"]" * depth, dict(JSON)

    def big(self) -> Case:
        size = self.rng.choice([5_000, 100_000, 900_000, 1_100_000])
        body = self.base("/status " + "x" * size)
        return self.encode(body)


def _gzip(data: bytes) -> bytes:
    """gzip with a fixed timestamp: the header's mtime would otherwise differ between two runs of one seed."""
    return gzip.compress(data, mtime=0)
