"""`$batch` as sent: its entries read and checked (`read_batch`), and the order to run them in
(`execution_order`). `SimGraph` runs each entry through the same pipeline as a top-level request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.sim.errors import bad_request

__all__ = ["BatchEntry", "execution_order", "read_batch"]

_BATCH_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


# -- $batch ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchEntry:
    id: str
    method: str
    url: str
    headers: dict[str, str]
    has_body: bool
    body: Any
    depends_on: tuple[str, ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


def read_batch(body: Any, max_requests: int) -> list[BatchEntry]:
    """The batch's entries, or 400 for the whole batch when it cannot be run as sent."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise bad_request("A $batch body is a JSON object with a 'requests' array.")
    raw_entries: list[Any] = body["requests"]
    if not raw_entries:
        raise bad_request("The $batch has no requests.")
    if len(raw_entries) > max_requests:
        raise bad_request(f"Number of batch request steps exceeds the maximum of {max_requests}.")
    entries: list[BatchEntry] = []
    for raw in raw_entries:
        if not isinstance(raw, dict):
            raise bad_request("Each $batch request is a JSON object.")
        entry_id, method, url = raw.get("id"), raw.get("method"), raw.get("url")
        if not isinstance(entry_id, str) or not entry_id:
            raise bad_request("Each $batch request needs an 'id' (a string).")
        if not isinstance(method, str) or method.upper() not in _BATCH_METHODS:
            raise bad_request(f"Request id : {entry_id} has no valid 'method'.")
        if not isinstance(url, str) or not url:
            raise bad_request(f"Request id : {entry_id} has no 'url'.")
        headers = raw.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise bad_request(f"Request id : {entry_id}: 'headers' must be an object of strings.")
        depends_on = raw.get("dependsOn") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise bad_request(f"Request id : {entry_id}: 'dependsOn' must be an array of request ids.")
        entries.append(
            BatchEntry(
                id=entry_id,
                method=method.upper(),
                url=url,
                headers={str(k): v for k, v in headers.items()},
                has_body="body" in raw and raw["body"] is not None,
                body=raw.get("body"),
                depends_on=tuple(depends_on),
            )
        )
    ids = [entry.id for entry in entries]
    for entry_id in ids:
        if ids.count(entry_id) > 1:
            raise bad_request(f"Request ids in a $batch must be unique: '{entry_id}' appears twice.")
    known = set(ids)
    for entry in entries:
        for dependency in entry.depends_on:
            if dependency not in known or dependency == entry.id:
                raise bad_request(f"Request id : {entry.id} depends on an unknown request id '{dependency}'.")
    return entries


def execution_order(entries: list[BatchEntry]) -> list[BatchEntry]:
    """Dependencies first; otherwise the order sent. 400 when dependsOn forms a cycle."""
    done: set[str] = set()
    order: list[BatchEntry] = []
    pending = list(entries)
    while pending:
        ready = next((e for e in pending if all(d in done for d in e.depends_on)), None)
        if ready is None:
            raise bad_request("The $batch requests' dependsOn form a cycle.")
        pending.remove(ready)
        done.add(ready.id)
        order.append(ready)
    return order
