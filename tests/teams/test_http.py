"""The `/api/messages` endpoint alone (`bot.teams.http`): before its services are open, and after they
close, it answers 503. End to end, with the real app: `tests/app/test_bad_requests.py`,
`tests/app/test_auth_matrix.py`."""

from __future__ import annotations

from aiohttp import web
from pytest_aiohttp import AiohttpClient

from bot.teams.http import MAX_BODY, MessagesEndpoint


async def test_a_closed_endpoint_answers_503(aiohttp_client: AiohttpClient) -> None:
    endpoint = MessagesEndpoint(authenticated=False)
    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/api/messages", endpoint)
    client = await aiohttp_client(app)
    response = await client.post("/api/messages", json={"type": "message"})
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    assert (await response.json())["message"] == "the bot is not running"
