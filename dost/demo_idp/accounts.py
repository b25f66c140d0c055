"""The demo provider's people: the demo data's e-signatures (dost.demo.CREDENTIALS), with their secrets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dost import demo, validation
from dost.demo_idp.models import IdpCertificate
from dost.services.passwords import hash_password


def load_demo(session: Session) -> None:
    """Add the demo certificates the provider does not hold yet (idempotent)."""
    known = set(session.scalars(select(IdpCertificate.subject)))
    for index, kind, seal, holder, fin, ident, secret, note in demo.CREDENTIALS:
        subject = f"demo-{kind}-{ident.lstrip('+')}"
        if subject in known:
            continue
        valid_from, valid_until = demo.credential_validity(note)
        # Seal authority is the certificate's own (an organisation's representative); other holders act for an
        # insurer only through the grants its seal holder gives them in the app.
        organizations = [{"voen": demo.INSURERS[index]["voen"], "seal": True}] if seal and index is not None else []
        session.add(IdpCertificate(
            subject=subject,
            kind=kind,
            card_serial=ident if kind == "card" else None,
            pin_hash=hash_password(secret) if kind == "card" else None,
            mobile_number=validation.normalize_mobile(ident) if kind != "card" else None,
            asan_user_id=secret if kind != "card" else None,
            fin=fin,
            name=holder,
            valid_from=valid_from,
            valid_until=valid_until,
            organizations=organizations,
        ))
    session.flush()
