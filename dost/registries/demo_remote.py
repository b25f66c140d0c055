"""Signing (Təsdiqlə) at the demo identity provider: the card's PIN and the Asan İmza phone confirmation are the
provider's, reached over its back channel (HTTP Basic with the app's client credentials), as a real signing
provider would be. The credentials themselves are the app's own rows, as the national login registered them."""

from __future__ import annotations

from datetime import UTC, datetime

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from dost.models import Credential, CredentialKind
from dost.registries.embedded import credential_record
from dost.registries.interfaces import AsanChallenge, CredentialRecord, SignatureError


class ProviderSignatures:
    """The SignatureProvider interface (dost.registries.interfaces) on the demo identity provider's signing API."""

    def __init__(self, session: Session, issuer: str, client_id: str, client_secret: str, timeout: float,
                 http: requests.Session | None = None):
        self.session = session
        self.issuer = issuer
        self.auth = (client_id, client_secret)
        self.timeout = timeout
        self.http = http or requests.Session()

    def _call(self, method: str, path: str, data: dict | None = None) -> tuple[int, dict]:
        try:
            response = self.http.request(method, self.issuer + path, data=data, auth=self.auth, timeout=self.timeout)
            return response.status_code, response.json()
        except (requests.RequestException, ValueError):
            raise SignatureError("unavailable") from None

    def check_card(self, card_number: str, pin: str) -> CredentialRecord:
        status, answer = self._call("POST", "/signing/card", {"card_number": card_number, "pin": pin})
        if status != 200:
            raise SignatureError(answer.get("error") or "wrong_secret")
        record = self.find_credential(CredentialKind.CARD, card_number)
        if record is None:
            raise SignatureError("unknown")
        return record

    def find_credential(self, kind: CredentialKind, identifier: str) -> CredentialRecord | None:
        column = Credential.card_number if kind == CredentialKind.CARD else Credential.mobile_number
        credential = self.session.scalar(
            select(Credential).where(Credential.kind == kind, column == identifier).order_by(Credential.id).limit(1))
        return credential_record(credential) if credential else None

    def start_asan(self, credential_id: int, purpose: str) -> AsanChallenge:
        credential = self.session.get_one(Credential, credential_id)
        status, answer = self._call("POST", "/signing/asan", {"mobile_number": credential.mobile_number or ""})
        if status != 200:
            raise SignatureError(answer.get("error") or "unknown")
        return AsanChallenge(answer["token"], answer["verification_code"],
                             datetime.fromtimestamp(float(answer["created_at"]), UTC))

    def asan_state(self, token: str, now: datetime, timeout_seconds: int) -> tuple[str, int | None]:
        status, answer = self._call("GET", f"/signing/asan/{requests.utils.quote(token, safe='')}")
        state = answer.get("state") if status == 200 else "unknown"
        if state != "confirmed":
            return (state if state in ("pending", "expired") else "unknown"), None
        credential = self.session.scalar(select(Credential.id).where(
            Credential.kind != CredentialKind.CARD, Credential.mobile_number == answer.get("mobile_number"))
            .order_by(Credential.id).limit(1))
        return ("confirmed", credential) if credential is not None else ("unknown", None)
