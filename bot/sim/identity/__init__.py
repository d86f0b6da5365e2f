"""The simulated Microsoft identity platform: app-only tokens for the simulated Graph, over local TLS.

It speaks the v2.0 endpoints msal uses for the client-credentials grant (OpenID discovery, JWKS and
the token endpoint, with Entra ID's error bodies), so the bot's real `MsalTokenProvider` runs
unchanged against it. The tokens are shaped like Entra ID's v1.0 access tokens for Microsoft Graph
(`iss` `https://sts.windows.net/{tid}/`, `appid`, `roles`…) and signed with a local RSA key;
`JwtAuthenticator` checks them on the simulated Graph's side.

Key material (the signing key, a local CA and a loopback server certificate) is generated on first
use under `data_dir/sim-identity/` and re-used on restart, so tokens and the CA survive restarts.
Token times (`iat`/`nbf`/`exp`) and their validation follow the injected `Clock`, so advancing the
simulator clock expires tokens; certificate validity follows wall time, because TLS clients check it
against wall time.

One module per job:
- `material`: the signing key, the local CA and the TLS server certificate on disk;
- `issuer`: `SimIdentity`, the registered apps and the tokens signed for them;
- `assertions`: the client assertions an app with a certificate credential signs, checked;
- `endpoints`: the identity platform's HTTP endpoints and the TLS site serving them;
- `verifier`: `JwtAuthenticator`, the simulated Graph's check of a bearer token.
"""

from bot.sim.identity.endpoints import (
    IdentitySite,
    create_identity_app,
    start_identity_site,
)
from bot.sim.identity.issuer import (
    ANY_TENANT,
    GRAPH_APP_ID,
    GRAPH_AUDIENCES,
    GRAPH_RESOURCE,
    TOKEN_LIFETIME,
    IssuedToken,
    RegisteredApp,
    SimIdentity,
    token_issuer,
)
from bot.sim.identity.verifier import GRAPH_WWW_AUTHENTICATE, JwtAuthenticator, SimAuthError

__all__ = [
    "ANY_TENANT",
    "GRAPH_APP_ID",
    "GRAPH_AUDIENCES",
    "GRAPH_RESOURCE",
    "GRAPH_WWW_AUTHENTICATE",
    "TOKEN_LIFETIME",
    "IdentitySite",
    "IssuedToken",
    "JwtAuthenticator",
    "RegisteredApp",
    "SimAuthError",
    "SimIdentity",
    "create_identity_app",
    "start_identity_site",
    "token_issuer",
]
