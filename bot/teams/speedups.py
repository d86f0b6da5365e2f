"""Measured fixes for botbuilder's per-activity CPU cost (msrest, its serialization library).

1. `CloudAdapter.process_activity` builds a `ConnectorClient` and a `UserTokenClient` for every inbound
   activity. Each builds an msrest `ClientRetryPolicy`, whose constructor computes
   `[i for i in range(999) if i not in self.safe_codes]` with `safe_codes` a 502-item *list*: about
   250,000 comparisons, twice per activity, on the event loop. Profiling 500 `/busy` commands put a
   quarter of the bot's CPU there. Making `safe_codes` a frozenset gives the same retry codes in
   microseconds. msrest only ever tests membership in it.
2. Every reply's Adaptive Card is an untyped `object` to msrest, which walks it key by key and, for each
   string, raises and catches an `AttributeError` (looking for an enum's `.value`): the largest share of
   a command's CPU after the redesign (bench/turns.py's profile, docs/performance.md). A dict or list
   made only of JSON values serializes to itself; the C `json` module checks that (and copies it, as
   msrest does) in a fraction of the time. Anything else takes msrest's own path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from msrest.serialization import Serializer
from msrest.universal_http.requests import ClientRetryPolicy

_SERIALIZE_OBJECT: Callable[..., Any] = Serializer.serialize_object


def _serialize_object(self: Serializer, attr: Any, **kwargs: Any) -> Any:
    if type(attr) is dict or type(attr) is list:
        try:
            return json.loads(json.dumps(attr, allow_nan=False))
        except (TypeError, ValueError):
            pass  # not plain JSON (a model, a datetime, NaN…): msrest knows what to do
    return _SERIALIZE_OBJECT(self, attr, **kwargs)


def apply() -> None:
    codes = ClientRetryPolicy.safe_codes
    if not isinstance(codes, frozenset):
        ClientRetryPolicy.safe_codes = frozenset(codes)  # type: ignore[assignment]
    if Serializer.serialize_object is not _serialize_object:
        Serializer.serialize_object = _serialize_object  # type: ignore[method-assign]
