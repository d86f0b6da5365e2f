"""Typed Graph errors. Callers branch on the class (or `code`), never on the message text.

GraphError
├── GraphBadRequest          400 (InvalidArgument…)
├── GraphUnauthorized        401 (token missing/expired, or a delegated token writing another user)
├── GraphPermissionDenied    403 (Presence.ReadWrite.All not granted / no admin consent)
├── GraphNotFound            404 (clearPresence with no session for this app, unknown user)
├── GraphThrottled           429 (retry_after seconds)
├── GraphUnavailable         5xx, after retries
├── GraphTimeout             no answer within the time budget
└── GraphConnectionError     could not reach Graph at all
"""

from __future__ import annotations

import json


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
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r})"


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
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (Graph sends seconds, sometimes fractional)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds)


def error_from_response(status: int, body: bytes, headers: dict[str, str]) -> GraphError:
    """Build the typed error for a non-2xx Graph answer from its `{"error": {...}}` body."""
    code, message = "UnknownError", f"Graph answered {status}"
    try:
        payload = json.loads(body or b"{}")
        err = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(err, dict):
            code = str(err.get("code") or code)
            message = str(err.get("message") or message)
    except (ValueError, UnicodeDecodeError):
        pass
    lowered = {k.lower(): v for k, v in headers.items()}
    request_id = lowered.get("request-id")
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = GraphUnavailable if status >= 500 else GraphError
    error = cls(message, status=status, code=code, request_id=request_id)
    error.retry_after = parse_retry_after(lowered.get("retry-after"))
    return error
