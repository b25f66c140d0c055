"""The demo provider's OpenID Connect server, on Authlib's authorization server: the authorization-code grant with
PKCE (S256 only, required) and OpenID Connect's ID token, signed with the provider's own RSA key."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, select

from dost.config import read_or_create_secret_file
from dost.demo_idp.models import IdpAuthorizationCode, IdpCertificate, idp_db

ID_TOKEN_SECONDS = 600


@dataclass(frozen=True)
class Client:
    """A registered relying party (Authlib's ClientMixin): a confidential web client of the code flow."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"openid", "user", "certificate"}))

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic" if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


def load_or_create_key(path: Path) -> RSAKey:
    """The provider's signing key (instance/demo-idp-key.json), created on first use; its kid names it in the JWKS."""

    def new_key() -> str:
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)
        key.ensure_kid()
        return json.dumps(key.as_dict(private=True))

    return RSAKey.import_key(json.loads(read_or_create_secret_file(path, new_key)))


class S256CodeChallenge(CodeChallenge):
    """PKCE, required, with S256 only (plain would hand the verifier to whoever sees the authorization request)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        if not grant.request.payload.data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge'")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def save_authorization_code(self, code, request):
        certificate: IdpCertificate = request.user
        idp_db.session.add(IdpAuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope or "",
            nonce=request.payload.data.get("nonce"),
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
            certificate_id=certificate.id,
            auth_time=int(time.time()),
        ))
        idp_db.session.commit()

    def query_authorization_code(self, code, client):
        item = idp_db.session.scalar(select(IdpAuthorizationCode).where(
            IdpAuthorizationCode.code == code, IdpAuthorizationCode.client_id == client.get_client_id()))
        return item if item is not None and not item.is_expired() else None

    def delete_authorization_code(self, authorization_code):
        # Used once: a second exchange of the same code finds nothing.
        idp_db.session.execute(delete(IdpAuthorizationCode).where(IdpAuthorizationCode.id == authorization_code.id))
        idp_db.session.commit()

    def authenticate_user(self, authorization_code):
        return idp_db.session.get(IdpCertificate, authorization_code.certificate_id)


class DemoOpenIDCode(OpenIDCode):
    """ID tokens carrying the certificate's claims (in the token itself: this provider has no userinfo endpoint)."""

    def __init__(self, issuer: str, key: RSAKey):
        super().__init__(require_nonce=True)
        self.issuer = issuer
        self.key = key

    def exists_nonce(self, nonce, request):
        return idp_db.session.scalar(select(IdpAuthorizationCode.id).where(
            IdpAuthorizationCode.client_id == request.payload.client_id,
            IdpAuthorizationCode.nonce == nonce).limit(1)) is not None

    def resolve_client_private_key(self, client):
        return self.key

    def get_client_algorithm(self, client):
        return "RS256"

    def get_client_claims(self, client):
        return {"iss": self.issuer, "aud": [client.get_client_id()], "exp": int(time.time()) + ID_TOKEN_SECONDS}

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": self.key.kid}

    def generate_user_info(self, user, scope):
        claims = user.claims()
        scopes = set((scope or "").split())
        info = UserInfo(sub=claims["sub"])
        if "user" in scopes:
            info.update(fin=claims["fin"], name=claims["name"])
        if "certificate" in scopes:
            info.update(certificate=claims["certificate"], organizations=claims["organizations"])
        return info


def create_server(app, clients: dict[str, Client], issuer: str, key: RSAKey) -> AuthorizationServer:
    """Authlib's authorization server for this app, with the code grant, OpenID Connect and PKCE."""
    server = AuthorizationServer(app, query_client=clients.get, save_token=lambda token, request: None)
    server.register_grant(AuthorizationCodeGrant, [DemoOpenIDCode(issuer, key), S256CodeChallenge(required=True)])
    return server


def public_key_set(key: RSAKey) -> dict:
    return KeySet([key]).as_dict(private=False)
