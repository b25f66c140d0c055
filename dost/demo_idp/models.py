"""The demo identity provider's own store: its people's certificates and their secrets, Asan İmza phone requests,
authorization codes. A database of its own (never the app's): the app learns only what the ID token says."""

from __future__ import annotations

import time
from datetime import date

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class IdpBase(DeclarativeBase):
    pass


idp_db = SQLAlchemy(model_class=IdpBase)


class IdpCertificate(IdpBase):
    """An e-signature certificate the provider vouches for, with the secret its holder proves it with."""

    __tablename__ = "idp_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # card, asan, sima
    card_serial: Mapped[str | None] = mapped_column(String(20), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    mobile_number: Mapped[str | None] = mapped_column(String(13), index=True)
    asan_user_id: Mapped[str | None] = mapped_column(String(12))
    fin: Mapped[str] = mapped_column(String(7))
    name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    # [{"voen": "…", "seal": true}]: whom the certificate acts for.
    organizations: Mapped[list] = mapped_column(JSON, default=list)

    def claims(self) -> dict:
        """The claims the provider releases about this certificate (dost.services.national_identity reads them)."""
        certificate = {"kind": self.kind, "valid_from": self.valid_from.isoformat(),
                       "valid_until": self.valid_until.isoformat()}
        if self.kind == "card":
            certificate["serial"] = self.card_serial
        else:
            certificate["phone_number"] = self.mobile_number
            if self.asan_user_id:
                certificate["asan_user_id"] = self.asan_user_id
        return {"sub": self.subject, "fin": self.fin, "name": self.name, "certificate": certificate,
                "organizations": list(self.organizations or [])}


class IdpPhoneRequest(IdpBase):
    """A request sent to an Asan İmza phone, to sign in or to sign a document: pending until the (simulated) phone
    confirms it."""

    __tablename__ = "idp_phone_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("idp_certificate.id"))
    verification_code: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, confirmed, used
    purpose: Mapped[str] = mapped_column(String(10), default="sign_in")  # sign_in, sign
    created_at: Mapped[float] = mapped_column(Float, default=time.time)

    certificate: Mapped[IdpCertificate] = relationship()


class IdpAuthorizationCode(IdpBase):
    """An authorization code, used once (Authlib's AuthorizationCodeMixin and OpenID Connect's additions)."""

    __tablename__ = "idp_authorization_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    certificate_id: Mapped[int] = mapped_column(ForeignKey("idp_certificate.id"))
    auth_time: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)

    certificate: Mapped[IdpCertificate] = relationship()

    # The lifetime of a code: long enough for a slow network, short enough to be of no use later.
    LIFETIME = 120

    def is_expired(self) -> bool:
        return time.time() - self.created_at > self.LIFETIME

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None
