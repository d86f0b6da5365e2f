"""The keys that sign inbound Bot Framework tokens, fetched without blocking anyone.

botbuilder 4.17.1 fetches the OpenID metadata and its key set with `requests` (blocking, no timeout)
inside the event loop, and does not remember a failure: each request with a token naming an unknown
key, against a slow key server, froze the whole bot for as long as the server took. Here:

- one `KeySource` per OpenID metadata URL fetches the metadata, then the key set (`jwks_uri`), with the
  app's async HTTP client, within `timeout` seconds for both;
- concurrent requests that need the keys share one fetch;
- keys are kept for `max_age` (botbuilder keeps them a day), refetched early for an unknown key id at
  most every `unknown_kid_interval`;
- a failed fetch is remembered for `failure_memory`: until then requests use the keys already held
  (stale keys rather than none) or are refused at once, and nobody waits on the key server again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 1024 * 1024  # an OpenID metadata or key set document is a few kilobytes


class KeysUnavailable(Exception):
    """No signing keys are held and the key server could not be reached (or was just tried)."""


@dataclass(frozen=True)
class SigningKey:
    key: jwt.PyJWK
    endorsements: frozenset[str]  # the channels this key may sign for; empty: any


class KeySource:
    """The signing keys published behind one OpenID metadata URL."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        metadata_url: str,
        *,
        timeout: float = 5.0,
        max_age: float = 24 * 3600.0,
        unknown_kid_interval: float = 300.0,
        failure_memory: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metadata_url = metadata_url
        self._http = http
        self._timeout = timeout
        self._max_age = max_age
        self._unknown_kid_interval = unknown_kid_interval
        self._failure_memory = failure_memory
        self._now = monotonic
        self._keys: dict[str, SigningKey] | None = None
        self._fetched_at = float("-inf")  # the last successful fetch
        self._failed_at = float("-inf")  # the last failed fetch
        self._attempted_at = float("-inf")  # the last fetch started, whatever its outcome
        self._running: asyncio.Task[None] | None = None
        self.fetches = 0  # fetches started (for tests and the health figures)

    async def key(self, kid: str) -> SigningKey | None:
        """The key `kid`, or None if the key server does not publish it.

        Raises `KeysUnavailable` when no keys are held and they cannot be had now.
        """
        if self._keys is None or self._now() - self._fetched_at >= self._max_age:
            await self._refresh()
        elif kid not in self._keys and self._now() - self._attempted_at >= self._unknown_kid_interval:
            await self._refresh()  # a key rolled over since the last fetch?
        if self._keys is None:
            raise KeysUnavailable(self.metadata_url)
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        if self._running is None:
            if self._now() - self._failed_at < self._failure_memory:
                return  # failed a moment ago: use what is held, or refuse, without asking again
            self._running = asyncio.create_task(self._fetch_and_keep())
        # A request that goes away (its client hung up) must not cancel the fetch others wait on.
        await asyncio.shield(self._running)

    async def _fetch_and_keep(self) -> None:
        self.fetches += 1
        self._attempted_at = self._now()
        try:
            async with asyncio.timeout(self._timeout):
                keys = await self._fetch()
        except TimeoutError:
            self._failed(f"no answer within {self._timeout:g} s")
        except (httpx.HTTPError, ValueError, KeyError, TypeError, RecursionError) as error:
            self._failed(f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}")
        else:
            self._keys = keys
            self._fetched_at = self._now()
            log.info("signing keys from %s: %d keys", self.metadata_url, len(keys))
        finally:
            self._running = None

    def _failed(self, why: str) -> None:
        self._failed_at = self._now()
        held = "keeping the keys held" if self._keys is not None else "no keys held"
        log.warning("could not fetch signing keys from %s (%s); %s", self.metadata_url, why, held)

    async def _fetch(self) -> dict[str, SigningKey]:
        metadata = await self._document(self.metadata_url)
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("the OpenID metadata has no jwks_uri")
        entries = (await self._document(jwks_uri)).get("keys")
        if not isinstance(entries, list):
            raise ValueError("the key set has no keys")
        keys = {kid: key for entry in entries if (found := _signing_key(entry)) for kid, key in [found]}
        if not keys:
            raise ValueError("the key set has no usable RSA keys")
        return keys

    async def _document(self, url: str) -> Mapping[str, Any]:
        async with self._http.stream("GET", url, timeout=self._timeout, follow_redirects=False) as answer:
            answer.raise_for_status()
            body = bytearray()
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ValueError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        document = json.loads(bytes(body))
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return document


def _signing_key(entry: object) -> tuple[str, SigningKey] | None:
    """One entry of a key set as (kid, key), or None for what cannot sign an RS256 token."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("kty") != "RSA":
        return None
    try:
        key = jwt.PyJWK(entry, algorithm="RS256")
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
    endorsements = entry.get("endorsements")
    channels = [e for e in endorsements if isinstance(e, str)] if isinstance(endorsements, list) else []
    return str(entry["kid"]), SigningKey(key=key, endorsements=frozenset(channels))
