"""A local stand-in for the Bot Framework's token signing keys: OpenID metadata and a key set (JWKS)
on a loopback port, with an RSA key made for the test, and tokens signed with it as Teams' are.

`stall` makes every answer wait that many seconds (a slow key server); `fail` makes it answer 500;
`requests` counts the metadata documents asked for.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.core.net import bound_port

CHANNEL_ISSUER = "https://api.botframework.com"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class KeyServer:
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    kid: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}")
    endorsements: list[str] = field(default_factory=lambda: ["msteams", "emulator", "webchat"])
    url: str = ""
    stall: float = 0.0
    fail: bool = False
    requests: int = 0

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/keys", self._keys)
        return app

    async def _metadata(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.stall:
            await asyncio.sleep(self.stall)
        if self.fail:
            return web.Response(status=500, text="down")
        return web.json_response(
            {
                "issuer": CHANNEL_ISSUER,
                "jwks_uri": f"{self.url}/v1/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "endorsements": self.endorsements})
        return web.json_response({"keys": [jwk]})

    def token(
        self,
        *,
        app_id: str,
        service_url: str,
        issuer: str = CHANNEL_ISSUER,
        lifetime: float = 3600,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A channel token as the Bot Framework signs it (claims can be overridden or added)."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": issuer,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + int(lifetime),
        }
        payload.update(claims)
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@asynccontextmanager
async def key_server(server: KeyServer | None = None) -> AsyncIterator[KeyServer]:
    """Serve `server` (a new one by default) on a free loopback port for the block."""
    server = server or KeyServer()
    runner = web.AppRunner(server.app(), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{bound_port(runner.addresses)}"
    try:
        yield server
    finally:
        await runner.cleanup()
