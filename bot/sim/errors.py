"""The one error type of the simulated tenant: what Graph would answer, as status, code and message."""

from __future__ import annotations


class SimGraphError(Exception):
    """A Graph error answer: HTTP `status`, Graph's `error.code` and a message a developer can act on.

    Raised by the tenant's rules, the routes and authenticators; the routes turn it into Graph's error
    body (`{"error": {"code", "message", "innerError": {...}}}`), with a `Retry-After` header when
    `retry_after` is set and any extra response `headers` (e.g. a 401's `WWW-Authenticate`).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"SimGraphError(status={self.status}, code={self.code!r}, message={self.message!r})"


def bad_request(message: str) -> SimGraphError:
    """400 BadRequest: the request could not be read (shape, types, JSON)."""
    return SimGraphError(400, "BadRequest", message)


def invalid_argument(message: str) -> SimGraphError:
    """400 InvalidArgument: the request was read, but a value breaks one of Graph's rules."""
    return SimGraphError(400, "InvalidArgument", message)


def not_found(message: str) -> SimGraphError:
    return SimGraphError(404, "NotFound", message)
