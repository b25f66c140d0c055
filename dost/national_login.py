"""The app as an OpenID Connect relying party of the national login (Digital Login / e-gov.az, or the demo provider).

Authlib's Flask client does the protocol: discovery, the authorization-code flow with PKCE (S256), state and nonce,
the token exchange and the ID token's signature (the provider's JWKS, cached, fetched again on an unknown key id)
and claims (iss, aud, exp, iat, nonce). This module adds what the protocol leaves to the relying party: the
discovered issuer must be the configured one, the userinfo's subject the ID token's, and every failure becomes one
of a few reasons a person can act on."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from joserfc.errors import JoseError

log = logging.getLogger(__name__)

CLIENT_NAME = "national"


class NationalLoginError(Exception):
    """The national login did not vouch for anyone: reason is one of REASONS (dost.blueprints.auth.views words them)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail[:200]


# access_denied: the person cancelled at the provider; unavailable: it did not answer (or not in time);
# rejected: its answer failed a check (state, token signature or claims, a reused code); error: it reported one.
REASONS = ("access_denied", "unavailable", "rejected", "error")


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    timeout: float


def settings(app: Flask) -> Settings | None:
    """The relying party's settings, or None when no national login is configured."""
    issuer = (app.config.get("OIDC_ISSUER") or "").strip().rstrip("/")
    if not issuer:
        return None
    return Settings(issuer, app.config.get("OIDC_CLIENT_ID") or "", app.config.get("OIDC_CLIENT_SECRET") or "",
                    app.config["OIDC_SCOPES"], float(app.config["OIDC_TIMEOUT_SECONDS"]))


def init_app(app: Flask) -> None:
    """Register the national login's client (one per app: Authlib keeps discovery and JWKS on it)."""
    configured = settings(app)
    if configured is None:
        return
    if not configured.client_id:
        raise RuntimeError("DOST_OIDC_ISSUER is set but DOST_OIDC_CLIENT_ID is not: register the app with the "
                           "national login and configure its client id and secret (README, 'National login').")
    oauth = OAuth(app)
    oauth.register(
        CLIENT_NAME,
        client_id=configured.client_id,
        client_secret=configured.client_secret or None,
        server_metadata_url=f"{configured.issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": configured.scopes,
            "code_challenge_method": "S256",
            # Every call to the provider (discovery, JWKS, token, userinfo) gives up after this long.
            "default_timeout": configured.timeout,
        },
    )
    app.extensions["national_login"] = oauth
    transport = app.extensions.get("national_login_transport")
    if transport is not None:
        # The demo provider mounted on this server: its back channel answered in-process (dost.demo_idp.transport).
        from dost.demo_idp.transport import session_class

        oauth.create_client(CLIENT_NAME).client_cls = session_class(transport)


def _client():
    return current_app.extensions["national_login"].create_client(CLIENT_NAME)


def _metadata() -> dict[str, Any]:
    """The provider's discovery document, checked once: it must speak for the configured issuer."""
    client = _client()
    metadata = client.load_server_metadata()
    expected = settings(current_app).issuer
    if (metadata.get("issuer") or "").rstrip("/") != expected:
        # Discovery from another issuer (a misconfiguration or an impostor): drop it so the next try rediscovers.
        client.server_metadata.clear()
        raise NationalLoginError("rejected", f"discovery names issuer {metadata.get('issuer')!r}")
    return metadata


def _guard(call):
    """Run one exchange with the provider, turning each way it can fail into a NationalLoginError."""
    try:
        return call()
    except NationalLoginError:
        raise
    except requests.RequestException as error:
        raise NationalLoginError("unavailable", type(error).__name__) from error
    except AuthlibBaseError as error:
        if error.error == "access_denied":
            raise NationalLoginError("access_denied") from error
        if error.error in ("mismatching_state", "invalid_grant"):
            raise NationalLoginError("rejected", error.error) from error
        raise NationalLoginError("error", error.error or "") from error
    except (JoseError, ValueError, KeyError, TypeError) as error:
        # A token that does not verify, claims that do not validate, or a body that is not what it should be.
        raise NationalLoginError("rejected", f"{type(error).__name__}: {error}") from error


def authorize_redirect(redirect_uri: str, locale: str):
    """The redirect to the provider's authorization endpoint (state, nonce and the PKCE verifier kept in the
    session)."""
    def start():
        _metadata()
        return _client().authorize_redirect(redirect_uri, ui_locales=locale)

    return _guard(start)


def finish() -> tuple[dict[str, Any], str | None]:
    """Handle the provider's answer on the callback: (the claims of the ID token merged with userinfo, the raw ID
    token for RP-initiated logout)."""

    def exchange():
        metadata = _metadata()
        client = _client()
        token = client.authorize_access_token()
        id_claims = token.get("userinfo")
        if not id_claims:
            raise NationalLoginError("rejected", "no ID token")
        claims = dict(id_claims)
        if metadata.get("userinfo_endpoint"):
            extra = client.userinfo(token=token)
            if extra.get("sub") != id_claims.get("sub"):
                # OpenID Connect Core 5.3.2: the userinfo response must be about the ID token's subject.
                raise NationalLoginError("rejected", "userinfo sub differs from the ID token's")
            claims = {**dict(extra), **claims}
        return claims, token.get("id_token")

    return _guard(exchange)


def logout_url(post_logout_redirect_uri: str, id_token: str | None) -> str | None:
    """The provider's end-session URL (RP-initiated logout), or None when it offers none or cannot be reached."""
    try:
        metadata = _metadata()
        if not metadata.get("end_session_endpoint"):
            return None
        result = _client().create_logout_url(post_logout_redirect_uri=post_logout_redirect_uri,
                                             id_token_hint=id_token, client_id=settings(current_app).client_id)
    except (NationalLoginError, requests.RequestException, AuthlibBaseError, ValueError) as error:
        log.warning("national login: no RP-initiated logout (%s)", error)
        return None
    return result["url"]
