"""What `/api/messages` accepts as a body (`bot.teams.body`): the JSON reader's bound, `check_body`'s
questions, the identifiers' checks and the string cleaner. Through the real endpoint:
`tests/app/test_bad_requests.py` and the fuzzer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.teams.body import MAX_DEPTH, BodyError, check_body, clean_strings, depth_over, read_json


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_read_json_bounds_the_nesting_without_recursing() -> None:
    assert read_json(json.dumps(nested(MAX_DEPTH)).encode()) == nested(MAX_DEPTH)
    with pytest.raises(BodyError, match="nested too deeply"):
        read_json(json.dumps(nested(MAX_DEPTH + 1)).encode())
    with pytest.raises(BodyError, match="nested too deeply"):
        read_json(b"[" * 1_000_000 + b"]" * 1_000_000)  # json.loads raises RecursionError here
    assert not depth_over(nested(5000), 10_000)  # the check itself never recurses


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe\x00", b"NaN]", b'{"a": 1}}'])
def test_read_json_names_invalid_json(raw: bytes) -> None:
    with pytest.raises(BodyError, match="not valid JSON"):
        read_json(raw)


def test_clean_strings_cleans_everything_but_the_command() -> None:
    body: dict[str, Any] = {
        "type": "message",
        "text": "/status a\x00b \ud800",
        "value": {"command": "/busy\x00"},
        "from": {"id": "u", "name": "Al\x00ex \udfff"},
        "entities": [{"type": "clientInfo", "timezone": "Europe/Berlin\x07"}, "x\x1b"],
        "channelData": {"ke\x00y": ["\ud83d"]},
    }
    clean_strings(body)
    assert body["text"] == "/status a\x00b \ud800" and body["value"] == {"command": "/busy\x00"}
    assert body["from"]["name"] == "Alex \ufffd"
    assert body["entities"] == [{"type": "clientInfo", "timezone": "Europe/Berlin"}, "x"]
    assert body["channelData"] == {"key": ["\ufffd"]}
    rest = {k: v for k, v in body.items() if k not in {"text", "value"}}
    json.dumps(rest, ensure_ascii=False).encode("utf-8")  # everything but the command encodes now


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"from": {"id": "a\x00"}}, "from.id holds control characters"),
        ({"conversation": {"id": "c", "tenantId": "t\ud800"}}, "conversation.tenantId holds"),
        ({"recipient": {"id": "r" * 1025}}, "recipient.id is longer than 1024"),
        ({"channelData": {"tenant": {"id": ["t"]}}}, "channelData.tenant.id must be a string"),
        ({"serviceUrl": "https://[broken"}, "serviceUrl is not a URL"),
        ({"type": "message\n"}, "type holds control characters"),
    ],
)
def test_check_body_refuses_broken_identifiers(changes: dict[str, Any], problem: str) -> None:
    body: dict[str, Any] = {
        "type": "message",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "from": {"id": "a"},
        "conversation": {"id": "c"},
    }
    body.update(changes)
    assert problem in (check_body(body) or "")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "JSON object"),
        ({"type": ""}, "no type"),
        ({"type": "message", "from": "alex"}, "from must be an object"),
        ({"type": "message", "from": {"id": "a"}, "conversation": {"id": "c"}}, "serviceUrl"),
        ({"type": "message", "serviceUrl": "http://x", "from": {}, "conversation": {"id": "c"}}, "sender"),
        ({"type": "message", "serviceUrl": "http://x", "from": {"id": "a"}}, "conversation"),
    ],
)
def test_check_body_names_what_is_missing(body: object, problem: str) -> None:
    found = check_body(body)
    assert found is not None and problem in found


def test_check_body_accepts_an_activity_and_events_without_a_sender() -> None:
    assert (
        check_body({"type": "message", "serviceUrl": "u", "from": {"id": "a"}, "conversation": {"id": "c"}})
        is None
    )
    assert check_body({"type": "conversationUpdate"}) is None


def test_no_finalizer_runs_out_of_stack_while_a_hostile_body_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`[[[[…` makes the parser recurse to Python's limit; a garbage collection starting there would run
    finalizers (urllib3's pools have one) with no stack left, printing a traceback in the bot's log."""
    import gc
    import sys
    import weakref

    raised: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: raised.append(unraisable.exc_value))

    def finalizer(depth: int = 20) -> None:  # needs a little stack, as urllib3's does
        if depth:
            finalizer(depth - 1)

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    thresholds = gc.get_threshold()
    # Everything allocated so far (a whole test session's objects under `make test`) is left out of the
    # collections below, which otherwise each walk it: the Cycles made after this are still collected.
    gc.collect()
    gc.freeze()
    try:
        # A collection due after n more allocations, for n around the parser's depth limit (one list a
        # level): one of them starts at the bottom of the recursion.
        for allocations in range(sys.getrecursionlimit() - 100, sys.getrecursionlimit() + 200, 5):
            gc.collect()
            weakref.finalize(Cycle(), finalizer)
            gc.set_threshold(allocations, 1, 1)
            with pytest.raises(BodyError, match="nested too deeply"):
                read_json(b"[" * 50_000 + b"]" * 50_000)
            gc.set_threshold(*thresholds)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        gc.collect()
    assert raised == []
