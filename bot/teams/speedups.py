"""A measured fix for botbuilder's per-activity CPU cost.

`CloudAdapter.process_activity` builds a `ConnectorClient` and a `UserTokenClient` for every inbound
activity. Each builds an msrest `ClientRetryPolicy`, whose constructor computes
`[i for i in range(999) if i not in self.safe_codes]` with `safe_codes` a 502-item *list*: about
250,000 comparisons, twice per activity, on the event loop. Profiling 500 `/busy` commands put a
quarter of the bot's CPU there. Making `safe_codes` a frozenset gives the same retry codes in
microseconds. msrest only ever tests membership in it.
"""

from __future__ import annotations

from msrest.universal_http.requests import ClientRetryPolicy


def apply() -> None:
    codes = ClientRetryPolicy.safe_codes
    if not isinstance(codes, frozenset):
        ClientRetryPolicy.safe_codes = frozenset(codes)  # type: ignore[assignment]
