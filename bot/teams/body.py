"""What `/api/messages` accepts as a body, checked before botbuilder or the pipeline sees it.

- `read_json`: JSON nested at most `MAX_DEPTH` deep (Python's `json` module raises `RecursionError` long
  before a 1 MB body runs out, and msrest's readers recurse too);
- `check_body`: an activity the bot can act on, its identifiers strings of printable characters of a
  bounded length (a 400 names what is wrong);
- `check_reply_address`: unauthenticated, the bot answers only a `serviceUrl` on this machine;
- `clean_strings`: every string outside the command fields free of control characters and lone UTF-16
  surrogates, which the store (PostgreSQL refuses NUL), Graph and the card serializer cannot carry. The
  command fields are the pipeline's (`bot.turns.inputs.clean_text` answers them with a card).
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.core.net import is_loopback_url
from bot.turns.inputs import COMMAND_FIELDS, clean

MAX_DEPTH = 32  # a Teams activity nests about 6 deep, an Adaptive Card action's data a few more; msrest and
# the garbage collector recurse over what is kept, so deeper bodies stop here (found by the fuzzer at 60)
MAX_ID = 1024  # Teams ids are under 200 characters ("29:1…", "a:1…", "19:…@thread.v2")
MAX_URL = 2048
# Where an activity names someone or something: (object or None for the activity itself, key).
_IDENTIFIERS = (
    (None, "id"),
    (None, "type"),
    (None, "channelId"),
    (None, "replyToId"),
    ("from", "id"),
    ("from", "aadObjectId"),
    ("recipient", "id"),
    ("conversation", "id"),
    ("conversation", "tenantId"),
)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class BodyError(ValueError):
    """Why a request body is not JSON the bot can read (for a 400)."""


def read_json(raw: bytes) -> Any:
    """The JSON in `raw`, nested at most `MAX_DEPTH` deep; `BodyError` otherwise.

    The garbage collector is held off while `json.loads` runs: on a hostile body (`[[[[…`) the parser
    recurses to Python's limit, and a collection starting down there would run finalizers (urllib3's
    connection pools have one) with no stack left, printing a RecursionError traceback (found by the
    fuzzer under load)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BodyError(f"the JSON is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError):
        raise BodyError("the body is not valid JSON") from None
    finally:
        if collecting:
            gc.enable()
    if depth_over(body, MAX_DEPTH):
        raise BodyError(f"the JSON is nested too deeply (at most {MAX_DEPTH} levels)")
    return body


def depth_over(value: object, limit: int) -> bool:
    """Whether `value` nests objects and arrays more than `limit` deep (without recursing)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def check_body(body: object) -> str | None:
    """Why a POSTed body is not an activity the bot can act on (a 400 names it), or None."""
    if not isinstance(body, dict):
        return "the body must be a Bot Framework activity (a JSON object)"
    if not isinstance(body.get("type"), str) or not body["type"]:
        return "the activity has no type"
    for key in ("conversation", "from", "recipient"):
        if key in body and not isinstance(body[key], dict):
            return f"the activity's {key} must be an object"
    problem = _identifiers(body)
    if problem is not None:
        return problem
    if body.get("type") in {"message", "invoke"}:
        if not isinstance(body.get("serviceUrl"), str):
            return "the activity has no serviceUrl to reply to"
        try:
            urlsplit(body["serviceUrl"])
        except ValueError:
            return "the activity's serviceUrl is not a URL"
        sender: Mapping[str, Any] = body.get("from") or {}
        if not (isinstance(sender.get("id"), str) and sender["id"]) and not sender.get("aadObjectId"):
            return "the activity has no sender (from.id): the bot acts only for who is speaking"
        if not isinstance(body.get("conversation"), dict) or not body["conversation"].get("id"):
            return "the activity has no conversation to reply in"
    return None


def check_reply_address(body: Mapping[str, Any], *, authenticated: bool) -> str | None:
    """Why the bot must not send anything to this activity's `serviceUrl` (a 400 names it), or None.

    Without inbound authentication anyone who reaches the port could name any URL there and have the
    bot POST to it, so only a `serviceUrl` on this machine (the Emulator, the Agents Playground) is
    answered. With authentication, botbuilder checks that the token's `serviceurl` claim matches.
    """
    if authenticated or "serviceUrl" not in body:
        return None
    url = body["serviceUrl"]
    if isinstance(url, str) and is_loopback_url(url):
        return None
    return "inbound requests are not authenticated, so the bot replies only to a serviceUrl on this machine"


def _identifiers(body: Mapping[str, Any]) -> str | None:
    """Identifiers are strings of printable characters, of a bounded length (or absent)."""
    found: list[tuple[str, object, int]] = [("serviceUrl", body.get("serviceUrl"), MAX_URL)]
    for parent, key in _IDENTIFIERS:
        holder = body if parent is None else body.get(parent)
        if isinstance(holder, Mapping):
            found.append((key if parent is None else f"{parent}.{key}", holder.get(key), MAX_ID))
    data = body.get("channelData")
    tenant = data.get("tenant") if isinstance(data, Mapping) else None
    if isinstance(tenant, Mapping):
        found.append(("channelData.tenant.id", tenant.get("id"), MAX_ID))
    for name, value, limit in found:
        if value is None:
            continue
        if not isinstance(value, str):
            return f"the activity's {name} must be a string"
        if len(value) > limit:
            return f"the activity's {name} is longer than {limit} characters"
        if _UNSAFE.search(value):
            return f"the activity's {name} holds control characters or broken Unicode"
    return None


def clean_strings(body: dict[str, Any]) -> dict[str, Any]:
    """Every string of an activity (keys too), cleaned in place, except its command fields (text,
    value), which `clean_text` answers for. Identifiers are checked before this (`check_body`)."""
    stack: list[Any] = []
    _clean_dict(body, stack, skip=COMMAND_FIELDS)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            _clean_dict(node, stack)
        else:
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = clean(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
    return body


def _clean_dict(node: dict[str, Any], stack: list[Any], skip: frozenset[str] = frozenset()) -> None:
    for key in [k for k in node if k not in skip]:
        item = node[key]
        cleaned = clean(key)
        if cleaned != key:
            del node[key]
            key = cleaned
            node[key] = item
        if isinstance(item, str):
            node[key] = clean(item)
        elif isinstance(item, dict | list):
            stack.append(item)
