"""Who is calling the simulated Graph: the seam between the simulated identity platform and Graph routes."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict

# Application permissions (roles claim) the simulated Graph understands.
PRESENCE_READ_ALL = "Presence.Read.All"
PRESENCE_READWRITE_ALL = "Presence.ReadWrite.All"


class Caller(BaseModel):
    """The application behind a Graph request, as its access token says."""

    model_config = ConfigDict(frozen=True)

    app_id: str
    tenant_id: str
    roles: frozenset[str]

    def can_write(self) -> bool:
        return PRESENCE_READWRITE_ALL in self.roles

    def can_read(self) -> bool:
        return bool({PRESENCE_READ_ALL, PRESENCE_READWRITE_ALL} & self.roles)


class Authenticator(Protocol):
    """Turns a Graph request into a `Caller`, or raises `SimGraphError` (401) like Graph does."""

    async def authenticate(self, request: web.Request) -> Caller: ...
