"""Who publishes the app: the developer name, website, privacy and terms URLs and the accent colour that
Teams shows on the app's details page (the manifest's `developer` and `accentColor`), checked as Teams
checks them on upload."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.package.errors import PackageError

# Teams manifest schema v1.30: developer.name ≤ 32 characters, the URLs https and ≤ 2048 characters,
# accentColor a #RRGGBB hex colour.
DEVELOPER_NAME_MAX = 32
URL_MAX = 2048
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
PLACEHOLDER_HOST = "presence-bot.example.com"


@dataclass(frozen=True)
class Publisher:
    developer_name: str = "Presence Bot"
    website_url: str = f"https://{PLACEHOLDER_HOST}/"
    privacy_url: str = f"https://{PLACEHOLDER_HOST}/privacy"
    terms_url: str = f"https://{PLACEHOLDER_HOST}/terms"
    accent_color: str = "#4F52B2"

    def checked(self) -> Publisher:
        """The same values, trimmed and checked; `PackageError` names the option to fix."""
        name = self.developer_name.strip()
        if not name:
            raise PackageError("--developer-name is empty: give the organization that publishes the app")
        if len(name) > DEVELOPER_NAME_MAX:
            raise PackageError(
                f"--developer-name {name!r} has {len(name)} characters; Teams allows at most "
                f"{DEVELOPER_NAME_MAX}"
            )
        color = self.accent_color.strip()
        if not _COLOR.match(color):
            raise PackageError(f"--accent-color {self.accent_color!r} must be a hex colour like #4F52B2")
        return Publisher(
            developer_name=name,
            website_url=_https("--website-url", self.website_url),
            privacy_url=_https("--privacy-url", self.privacy_url),
            terms_url=_https("--terms-url", self.terms_url),
            accent_color=color.upper(),
        )

    @property
    def uses_placeholders(self) -> bool:
        """True while any URL still points at the example host (fine to try, not to publish)."""
        return any(
            urlsplit(url).hostname == PLACEHOLDER_HOST
            for url in (self.website_url, self.privacy_url, self.terms_url)
        )


def _https(option: str, url: str) -> str:
    value = url.strip()
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(ch.isspace() for ch in value):
        raise PackageError(f"{option} {url!r} must be an https:// URL, like https://contoso.com/privacy")
    if len(value) > URL_MAX:
        raise PackageError(f"{option} is {len(value)} characters long; Teams allows at most {URL_MAX}")
    return value
