"""`POST /api/messages`: the HTTP edge, from a request to botbuilder's adapter and back.

    content type and encoding (415) ─► read, at most `MAX_BODY` bytes decompressed (413; 400 when the
    body cannot be read) ─► `read_json` ─► `check_body` ─► `check_reply_address` ─► `clean_strings`
    (400 naming what is wrong) ─► msrest's `Activity` ─► `InboundAuthentication` (401; 503 while no
    signing keys can be had) ─► `CloudAdapter.process_activity` ─► `PresenceBot.on_turn`
    ◄─ 201, or an invoke's answer

Nothing a client sends is answered with a 500. The endpoint is registered when the app is built and
opened once its resources are (`MessagesEndpoint.open`); until then, and after `close`, it answers 503.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from bot.logs import correlation_id, log_context
from bot.teams.body import BodyError, check_body, check_reply_address, clean_strings, read_json
from bot.teams.context import tenant_of
from bot.teams.handler import CHANNEL_ERRORS, PresenceBot, log_unsent
from bot.teams.inbound_auth import InboundAuthentication, KeysUnavailable, Unauthorized

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes, after decompression (also the aiohttp app's client_max_size)
_ENCODINGS = frozenset({"", "identity", "gzip", "deflate"})
_RETRY_LATER = {"Retry-After": "30"}


@dataclass(frozen=True)
class TeamsEdge:
    """What answers an activity once the app's resources are open."""

    authentication: InboundAuthentication
    adapter: CloudAdapter
    bot: PresenceBot


def teams_adapter(authentication: InboundAuthentication) -> CloudAdapter:
    """botbuilder's `CloudAdapter` on `authentication`; a turn's unhandled error is logged once."""
    adapter = CloudAdapter(authentication)
    adapter.on_turn_error = _on_turn_error
    return adapter


async def _on_turn_error(context: object, error: Exception) -> None:
    if isinstance(error, CHANNEL_ERRORS):  # the reply could not reach the channel (serviceUrl)
        log_unsent(context, error)
        return
    log.error("unhandled error in a turn", exc_info=error)


class MessagesEndpoint:
    """The `/api/messages` handler: checks a request and its body itself (400/413/415, never 500),
    authenticates it (401, or 503 while no signing keys can be had), then hands the activity to
    botbuilder. `authenticated`: whether inbound tokens are checked (else replies go only to a
    `serviceUrl` on this machine)."""

    def __init__(self, *, authenticated: bool) -> None:
        self._authenticated = authenticated
        self._edge: TeamsEdge | None = None

    def open(self, edge: TeamsEdge) -> None:
        self._edge = edge

    def close(self) -> None:
        self._edge = None

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        edge = self._edge
        if edge is None:
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "the bot is not running", **{"Retry-After": "5"})
        activity = await self._activity(request)
        if isinstance(activity, web.Response):
            return activity
        # Every line logged while this activity is handled names it and the caller's correlation id.
        with log_context(activity.id, correlation_id(request.headers)):
            if log.isEnabledFor(logging.DEBUG):
                tenant, via = tenant_of(activity), activity.service_url
                log.debug("%s activity from tenant %s via %s", activity.type, tenant, via)
            try:
                authenticated = await edge.authentication.authenticate_request(
                    activity, request.headers.get("Authorization", "")
                )
            except Unauthorized as refused:
                log.warning("refused a request from %s: %s", request.remote, refused.reason)
                return _error(HTTPStatus.UNAUTHORIZED, "the request's token was not accepted")
            except KeysUnavailable:
                log.warning(
                    "refused a request from %s: no signing keys to check its token with", request.remote
                )
                return _error(HTTPStatus.SERVICE_UNAVAILABLE, "cannot check tokens now", **_RETRY_LATER)
            invoke = await edge.adapter.process_activity(authenticated, activity, edge.bot.on_turn)
        if invoke is None:
            return web.Response(status=HTTPStatus.CREATED)
        if invoke.body is None:
            return web.Response(status=invoke.status)
        body_out = invoke.body if isinstance(invoke.body, dict | list) else serializer_helper(invoke.body)
        return web.json_response(body_out, status=invoke.status)

    async def _activity(self, request: web.Request) -> Activity | web.Response:
        """The request's activity, read, bounded, checked and cleaned; or the 4xx answer saying why not."""
        if "application/json" not in request.headers.get("Content-Type", ""):
            return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the activity as application/json")
        if request.headers.get("Content-Encoding", "").strip().lower() not in _ENCODINGS:
            return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body may be sent plain, gzip or deflate")
        try:
            raw = await request.read()  # aiohttp decompresses, and stops at client_max_size (decompressed)
        except web.HTTPRequestEntityTooLarge:
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is larger than {MAX_BODY} bytes")
        except (RequestPayloadError, HttpProcessingError):
            return await _answer_and_close(request, _bad_request("the body could not be read (broken gzip?)"))
        try:
            body = read_json(raw)
        except BodyError as error:
            return _bad_request(str(error))
        problem = check_body(body) or check_reply_address(body, authenticated=self._authenticated)
        if problem is not None:
            return _bad_request(problem)
        try:
            activity: Activity = Activity().deserialize(clean_strings(body))
        except Exception:  # msrest raises several types for shapes it cannot read
            return _bad_request("the activity could not be read")
        return activity


def _error(status: HTTPStatus, reason: str, **headers: str) -> web.Response:
    return web.json_response({"error": status.phrase, "message": reason}, status=status, headers=headers)


def _bad_request(reason: str) -> web.Response:
    return _error(HTTPStatus.BAD_REQUEST, reason)


async def _answer_and_close(request: web.Request, response: web.Response) -> web.Response:
    """Send `response`, then close the connection: after a body that could not be decoded, aiohttp
    would read on to drain it and log the same error again as an unhandled exception."""
    response.force_close()  # "Connection: close", so the client does not send its next request on it
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response
