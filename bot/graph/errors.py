"""Typed Graph errors. Callers branch on the class (or `code`), never on the message text.

GraphError
├── GraphBadRequest          400 (InvalidArgument…)
├── GraphUnauthorized        401 (token missing/expired, or a delegated token writing another user)
├── GraphPermissionDenied    403 (Presence.ReadWrite.All not granted / no admin consent)
├── GraphNotFound            404 (clearPresence with no session for this app, unknown user)
├── GraphThrottled           429 (retry_after seconds)
├── GraphUnavailable         5xx other than 504, after retries
├── GraphTimeout             no answer in time: 504 from Graph, a timed-out exchange, the budget spent,
│                            or a connection lost after a write was sent (it may have been applied)
└── GraphConnectionError     could not reach Graph at all (nothing was sent)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class GraphError(Exception):
    status: int = 0
    retry_after: float | None = None  # seconds Graph asked us to wait (429, sometimes 503)

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "UnknownError",
        request_id: str | None = None,
        client_request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code
        self.request_id = request_id
        self.client_request_id = client_request_id

    def __repr__(self) -> str:
        ref = f", request_id={self.request_id!r}" if self.request_id else ""
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}{ref})"


class GraphBadRequest(GraphError):
    status = 400


class GraphUnauthorized(GraphError):
    status = 401


class GraphPermissionDenied(GraphError):
    status = 403


class GraphNotFound(GraphError):
    status = 404


class GraphThrottled(GraphError):
    status = 429


class GraphUnavailable(GraphError):
    status = 503


class GraphTimeout(GraphError):
    status = 504


class GraphConnectionError(GraphError):
    status = 0


_BY_STATUS: dict[int, type[GraphError]] = {
    400: GraphBadRequest,
    401: GraphUnauthorized,
    403: GraphPermissionDenied,
    404: GraphNotFound,
    429: GraphThrottled,
    # Graph's gateway gave up waiting for the service: like our own timeout, the call may have landed.
    504: GraphTimeout,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (Graph sends seconds, sometimes fractional).

    An HTTP date (RFC 9110 allows one; Graph does not send it) or a non-finite number reads as None.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> GraphError:
    """The typed error for a non-2xx Graph answer, from its `{"error": {"code", "message", "innerError"}}`
    body (docs/graph-facts.md §4) and headers. The request id comes from the `request-id` header, else the
    body's `innerError` (a `$batch` entry's headers may not carry it)."""
    code, message = "UnknownError", f"Graph answered {status}"
    inner: dict[str, Any] = {}
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        payload = None  # e.g. an HTML page from a proxy: keep the status, no code
    err = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(err, dict):
        code = _text(err.get("code")) or code
        message = _text(err.get("message")) or message
        raw_inner = err.get("innerError") or err.get("innererror")
        if isinstance(raw_inner, dict):
            inner = raw_inner
    lowered = {k.lower(): v for k, v in headers.items()}
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = GraphUnavailable if status >= 500 else GraphError
    error = cls(
        message,
        status=status,
        code=code,
        request_id=_text(lowered.get("request-id")) or _text(inner.get("request-id")),
        client_request_id=_text(lowered.get("client-request-id")) or _text(inner.get("client-request-id")),
    )
    error.retry_after = parse_retry_after(lowered.get("retry-after"))
    return error
