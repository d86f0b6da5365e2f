"""Logging, configured in one place (`configure_logging`): one line per record, whatever the values.

- **Formats** (`PRESENCE_BOT_LOG_FORMAT`): `text` (default) is `time level logger: message`; `json` is
  one JSON object a line with `time`, `level`, `logger`, `message`, the activity and correlation ids,
  `exception` when there is one, and any `extra=` fields.
- **No forged lines**: tenant ids, user ids and service URLs come from the activity. Control characters
  (newline, NUL, ANSI escapes, C1, Unicode line separators, bidi overrides) are written as `\\n`,
  `\\x00`, `\\x1b`, `\\u2028`… in both formats, tracebacks included, so one record is one line.
- **No secrets**: `RedactSecrets` replaces bearer tokens, JWTs (`eyJ…`), `client_secret=`-style
  parameters and the configured secrets' values before any handler formats the record.
- **Which activity**: `log_context` (entered by the `/api/messages` route for the whole request) sets
  the activity id and a correlation id, and `ActivityContext` puts them on every record logged inside.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, NamedTuple

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings

REDACTED = "[redacted]"
# Characters that could end a line, rewrite the terminal, or reorder what a reader sees.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TOKENS = [
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?"), REDACTED),
    (
        re.compile(r"(?i)\b(client_secret|password|access_token|refresh_token|assertion)=[^&\s\"']+"),
        r"\1=" + REDACTED,
    ),
]
_SHORTEST_SECRET = 6  # a shorter "secret" would redact ordinary words
# The attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_OURS = frozenset({"activity_id", "correlation_id"})


def escape_control(text: str) -> str:
    """`text` with every control character written out (`\\n`, `\\x00`, `\\x1b`, `\\u2028`)."""
    return _CONTROL.sub(_escaped, text)


def one_line(error: BaseException) -> str:
    """An exception as one readable line: its first (SQLAlchemy appends its background links on new
    lines, and wraps the driver's error in `orig`)."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


# -- which activity a record belongs to ----------------------------------------------------------
class RequestIds(NamedTuple):
    activity_id: str | None
    correlation_id: str


_REQUEST: ContextVar[RequestIds | None] = ContextVar("presence_bot_request", default=None)
_CORRELATION_HEADERS = ("MS-CV", "x-ms-correlation-id", "x-ms-client-request-id", "x-correlation-id")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._:/+=@-]")


def correlation_id(headers: Any) -> str:
    """The caller's correlation id (`MS-CV` and the like), cleaned and clipped; else a new uuid4."""
    for name in _CORRELATION_HEADERS:
        value = headers.get(name)
        if isinstance(value, str):
            cleaned = _SAFE_ID.sub("", value)[:128]
            if cleaned:
                return cleaned
    return str(uuid.uuid4())


@contextmanager
def log_context(activity_id: str | None, correlation: str) -> Iterator[RequestIds]:
    """Every record logged inside (in this task and tasks it starts) carries these ids."""
    ids = RequestIds(activity_id[:256] if activity_id else None, correlation)
    token = _REQUEST.set(ids)
    try:
        yield ids
    finally:
        _REQUEST.reset(token)


class ActivityContext(logging.Filter):
    """Puts `activity_id` and `correlation_id` on each record (None outside an activity)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _REQUEST.get()
        if not hasattr(record, "correlation_id"):
            record.correlation_id = ids.correlation_id if ids is not None else None
        if not hasattr(record, "activity_id"):
            record.activity_id = ids.activity_id if ids is not None else None
        return True


# -- secrets ---------------------------------------------------------------------------------------
class RedactSecrets(logging.Filter):
    """Rewrites each record with its message already formatted and secrets replaced by `[redacted]`:
    bearer tokens, JWTs, `client_secret=`-style parameters, and the `secrets` given (e.g. the app
    password), in the message, the traceback and string `extra=` fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        values = sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(s) for s in values)) if values else None

    def redact(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(REDACTED, text)
        for pattern, replacement in _TOKENS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None  # formatted (and redacted) above: formatters use exc_text
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name in _STANDARD or name in _OURS or value is None or isinstance(value, bool | int | float):
                continue
            setattr(record, name, self.redact(value if isinstance(value, str) else str(value)))
        return True


def configured_secrets(settings: Settings) -> list[str]:
    """The secret values in the configuration (app password, Graph secret, database password)."""
    found = [
        settings.bot.app_password.get_secret_value(),
        settings.graph.client_secret.get_secret_value(),
    ]
    if settings.store.database_url:
        try:
            password = make_url(settings.store.database_url).password
        except ArgumentError:
            password = None
        if password:
            found.append(str(password))
    return [value for value in found if value]


# -- formats -------------------------------------------------------------------------------------------
class TextFormatter(logging.Formatter):
    """`time level logger: message [activity=… correlation=…]`, control characters escaped."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{label}={value}"
            for label, value in (
                ("activity", getattr(record, "activity_id", None)),
                ("correlation", getattr(record, "correlation_id", None)),
            )
            if value
        ]
        return escape_control(f"{line} [{' '.join(ids)}]" if ids else line)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, ids, exception, `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("activity_id", "correlation_id"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in _OURS and name not in entry:
                entry[name] = value
        return json.dumps({key: _plain(value) for key, value in entry.items()}, ensure_ascii=False)


def _plain(value: Any) -> Any:
    """A JSON value with every string's control characters escaped (other objects as their text)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return escape_control(value if isinstance(value, str) else str(value))


# -- the one place logging is configured --------------------------------------------------------------
_OWN_HANDLER = "presence_bot_handler"
_CHATTY = ("aiosqlite", "asyncio", "msrest", "urllib3", "hpack", "httpcore")


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's records to `stream` (stderr) in the configured format, at the configured
    level, through the context and redaction filters. Replaces the handler a previous call installed."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_OWN_HANDLER)
    handler.addFilter(ActivityContext())
    handler.addFilter(RedactSecrets(configured_secrets(settings)))
    handler.setFormatter(JsonFormatter() if settings.logging.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _OWN_HANDLER]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    level = logging.getLevelNamesMapping()[settings.logging.level.upper()]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its per-plugin INFO lines are noise here
    for chatty in _CHATTY:  # DEBUG is for the bot's own lines: these log every driver call or retry setup
        logging.getLogger(chatty).setLevel(max(level, logging.INFO))
    return handler
