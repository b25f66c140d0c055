"""Notice signatures: canonical bytes, the QR URL, key rotation and compromise, the JWK set, the CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import event, func, select

from dost.models import (
    Application,
    ApplicationReason,
    ApplicationStatus,
    ApplicationStatusChange,
    ApplicationType,
    AuditEvent,
    Certificate,
    Channel,
    EmploymentContract,
    Insurer,
    Notice,
    Person,
    SigningKey,
)
from dost.services import signing
from dost.services.actors import Actor
from dost.validation import search_key

INSURER_A_VOEN = "9802091761"
REASON_TYPES = {
    ApplicationReason.DOCUMENT_CHANGED: ApplicationType.CHANGE,
    ApplicationReason.LOST: ApplicationType.DUPLICATE,
    ApplicationReason.DATA_ERROR: ApplicationType.CHANGE,
    ApplicationReason.DAMAGED: ApplicationType.DUPLICATE,
}
_counter = {"n": 0}


def demo_person(session, voen: str = INSURER_A_VOEN, index: int = 0) -> tuple[Person, Certificate, Insurer]:
    """A demo person currently employed by the insurer, with their certificate."""
    insurer = session.scalar(select(Insurer).where(Insurer.voen == voen))
    rows = session.execute(
        select(Person, Certificate)
        .join(EmploymentContract, EmploymentContract.person_id == Person.id)
        .join(Certificate, Certificate.person_id == Person.id)
        .where(EmploymentContract.insurer_id == insurer.id, EmploymentContract.end_date.is_(None))
        .order_by(Person.id)
    ).all()
    person, certificate = rows[index]
    return person, certificate, insurer


def pdf_bytes(number: str) -> bytes:
    return b"%PDF-1.4\n% test notice " + number.encode() + b"\n%%EOF\n"


def make_notice(
    session,
    *,
    index: int = 0,
    reason: ApplicationReason = ApplicationReason.LOST,
    issued_at: datetime | None = None,
    number: str | None = None,
    walk_in: bool = False,
    person: Person | None = None,
) -> Notice:
    """A submitted application of a demo person of insurer A with its signed notice (committed)."""
    found_person, certificate, insurer = demo_person(session, index=index)
    person = person or found_person
    if person is not found_person:
        certificate = session.scalar(select(Certificate).where(Certificate.person_id == person.id))
    issued_at = issued_at or datetime.now(UTC)
    _counter["n"] += 1
    number = number or f"SSŞ-{issued_at.year}-{_counter['n']:06d}"
    application = Application(
        insurer_id=None if walk_in else insurer.id,
        person_id=person.id,
        certificate_id=certificate.id,
        channel=Channel.WALK_IN if walk_in else Channel.ONLINE,
        document_type=person.document_type,
        reason=reason,
        application_type=REASON_TYPES[reason],
        status=ApplicationStatus.SUBMITTED,
        fin=person.fin,
        ssn=certificate.ssn,
        ssn_date=certificate.issue_date,
        surname=person.surname,
        name=person.name,
        patronymic=person.patronymic,
        surname_key=search_key(person.surname),
        name_key=search_key(person.name),
        patronymic_key=search_key(person.patronymic),
        created_at=issued_at,
        updated_at=issued_at,
        application_date=issued_at.date(),
        registration_number=number,
        submitted_at=issued_at,
        deadline=issued_at.date() + timedelta(days=30),
        front_office_deadline=issued_at.date() + timedelta(days=2),
    )
    session.add(application)
    session.flush()
    session.add(ApplicationStatusChange(application_id=application.id, status=ApplicationStatus.SUBMITTED,
                                        at=issued_at, actor_label="test"))
    pdf = pdf_bytes(number)
    notice = Notice(application_id=application.id, number=number, issued_at=issued_at, pdf=pdf,
                    pdf_sha256=hashlib.sha256(pdf).hexdigest())
    session.add(notice)
    session.flush()
    signing.sign_notice(session, notice, application)
    session.commit()
    return notice


def supersede(session, old: Notice, reason: ApplicationReason = ApplicationReason.DAMAGED,
              issued_at: datetime | None = None, walk_in: bool = False) -> Notice:
    """A later notice for the same person (by the same insurer, or at a centre); the old one points to it."""
    new = make_notice(session, person=old.application.person, reason=reason, issued_at=issued_at, walk_in=walk_in)
    old = session.get(Notice, old.id)
    old.superseded_by_id = new.id
    session.commit()
    return new


def refuse(session, notice: Notice, at: datetime | None = None) -> None:
    application = session.get(Application, notice.application_id)
    at = at or datetime.now(UTC)
    application.status = ApplicationStatus.REFUSED
    application.completed_at = at
    session.add(ApplicationStatusChange(application_id=application.id, status=ApplicationStatus.REFUSED, at=at,
                                        actor_label="test"))
    session.commit()


def token_of(notice: Notice) -> str:
    """The percent-encoded token, as in the QR URL."""
    return signing.verification_token(notice)


def raw_token_of(notice: Notice) -> str:
    """The token as the view receives it (URL-decoded)."""
    return f"{notice.number}.{notice.key_id}.{notice.signature}"


# --- tests ------------------------------------------------------------------------------------------------


def test_sign_notice_sets_every_field_and_creates_the_first_key(session):
    assert session.scalar(select(func.count()).select_from(SigningKey)) == 0
    notice = make_notice(session)
    assert len(notice.key_id) == signing.KID_LENGTH
    assert len(notice.signature) == signing.SIGNATURE_LENGTH
    assert len(notice.verification_code) == signing.CODE_LENGTH
    assert set(notice.verification_code) <= set(signing.CODE_ALPHABET)
    assert notice.fin_hash == signing.fin_hash(notice.application.fin) and len(notice.fin_hash) == 64
    assert notice.application.fin not in notice.fin_hash
    assert session.scalar(select(func.count()).select_from(SigningKey)) == 1
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "signing_key.create")) is not None
    # A second notice reuses the current key.
    second = make_notice(session, index=1)
    assert second.key_id == notice.key_id
    assert session.scalar(select(func.count()).select_from(SigningKey)) == 1


def test_verification_codes_avoid_look_alike_characters():
    codes = {signing.new_verification_code() for _ in range(200)}
    assert len(codes) == 200
    assert not set("".join(codes)) & set("0O1IL5S8B2Z")
    assert signing.format_code("ABCD7KQM") == "ABCD-7KQM"
    assert signing.code_matches("ABCD7KQM", " abcd-7kqm ")
    assert not signing.code_matches("ABCD7KQM", "ABCD7KQN")
    assert not signing.code_matches(None, "ABCD7KQM")


def test_canonical_bytes_are_sorted_json_with_version_and_key_id():
    fields = signing.NoticeFields("change", "SSŞ-2026-000001", date(2026, 3, 1), "9802091761", "ab" * 32,
                                  date(2026, 3, 31))
    raw = signing.canonical_bytes(fields, "abcdefgh")
    decoded = json.loads(raw)
    assert decoded["v"] == signing.PAYLOAD_VERSION and decoded["kid"] == "abcdefgh"
    assert decoded["number"] == "SSŞ-2026-000001" and decoded["deadline"] == "2026-03-31"
    assert raw == json.dumps(decoded, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    # Moving text between fields changes the bytes: no two field sets share an encoding.
    shifted = signing.NoticeFields("change", "SSŞ-2026-00000", date(2026, 3, 1), "19802091761", "ab" * 32,
                                   date(2026, 3, 31))
    assert signing.canonical_bytes(shifted, "abcdefgh") != raw
    assert signing.canonical_bytes(fields, "abcdefgi") != raw


def test_every_signed_field_is_protected(session):
    notice = make_notice(session)
    key = signing.public_key(session, notice.key_id)
    fields = signing.fields_of(notice, notice.application)
    assert signing.signature_valid(key, fields, notice.signature)
    from dataclasses import replace

    for change in ({"application_type": "change"}, {"number": notice.number + "1"},
                   {"issue_date": fields.issue_date - timedelta(days=1)}, {"insurer_voen": "1403558271"},
                   {"fin_hash": signing.fin_hash("AAAAAAA")}, {"deadline": fields.deadline + timedelta(days=1)}):
        assert not signing.signature_valid(key, replace(fields, **change), notice.signature), change


def test_signature_check_needs_no_database_once_keys_are_cached(app, session):
    notice = make_notice(session)
    signing.invalidate_key_cache()
    assert signing.public_key(session, notice.key_id) is not None  # loads the cache
    fields = signing.fields_of(notice, notice.application)  # the status check reads these rows anyway
    engine = session.get_bind()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        key = signing.public_key(session, notice.key_id)
        assert signing.signature_valid(key, fields, notice.signature)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_verification_url_is_percent_encoded_and_fits_a_small_qr(session):
    notice = make_notice(session, number="SSŞ-2026-000123")
    url = signing.verification_url(notice, "https://ssh.dost.gov.az/")
    assert url.startswith("https://ssh.dost.gov.az/v/SS%C5%9E-2026-000123.")
    assert url.isascii()
    parsed = signing.parse_token(url.split("/v/", 1)[1].replace("SS%C5%9E", "SSŞ"))
    assert parsed == signing.ParsedToken("SSŞ-2026-000123", notice.key_id, notice.signature)
    for base in ("https://ssh.dost.gov.az", "https://sosial-sigorta-sehadetnamesi.dost.gov.az"):
        qr = segno.make(signing.verification_url(notice, base), error="m")
        assert qr.version <= 10, qr.version


def test_parse_token_refuses_malformed_tokens(session):
    notice = make_notice(session)
    good = f"{notice.number}.{notice.key_id}.{notice.signature}"
    assert signing.parse_token(good) is not None
    for bad in ("", notice.number, f"{notice.number}.{notice.key_id}", good[:-1], good + "A",
                f"{notice.number}.{notice.key_id.upper()}.{notice.signature}",
                f"{notice.number}.{notice.key_id}.{notice.signature[:-2]}==", "x" * 10_000,
                f"{notice.number}\x00.{notice.key_id}.{notice.signature}"):
        assert signing.parse_token(bad) is None, bad[:80]


def test_non_canonical_base64_is_not_a_second_spelling_of_a_signature(session):
    notice = make_notice(session)
    key = signing.public_key(session, notice.key_id)
    fields = signing.fields_of(notice, notice.application)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = notice.signature[-1]
    # The last character of 64 bytes in base64 carries 4 unused bits: its neighbours decode to the same bytes.
    for other in alphabet:
        if other == last:
            continue
        assert not signing.signature_valid(key, fields, notice.signature[:-1] + other)


def test_rotation_keeps_old_notices_valid_and_signs_new_ones_with_the_new_key(session):
    old = make_notice(session)
    new_key = signing.rotate_keys(session, Actor.system("test"))
    session.commit()
    assert new_key.kid != old.key_id
    new = make_notice(session, index=1)
    assert new.key_id == new_key.kid
    for notice in (old, new):
        key = signing.public_key(session, notice.key_id)
        assert signing.signature_valid(key, signing.fields_of(notice, notice.application), notice.signature)
    statuses = {k["kid"]: k["status"] for k in signing.jwks(session)["keys"]}
    assert statuses == {old.key_id: "retired", new.key_id: "current"}


def test_compromise_marks_the_key_and_a_fresh_key_signs_next(session):
    notice = make_notice(session)
    signing.compromise_key(session, Actor.system("test"), notice.key_id)
    session.commit()
    assert signing.public_key(session, notice.key_id).compromised
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "signing_key.compromise")) is not None
    later = make_notice(session, index=1)
    assert later.key_id != notice.key_id
    statuses = {k["kid"]: k["status"] for k in signing.jwks(session)["keys"]}
    assert statuses[notice.key_id] == "revoked" and statuses[later.key_id] == "current"


def test_fin_hash_is_salted_with_the_server_secret(app):
    expected = hmac.new(signing._settings["salt"], b"fin:5ZK4R9P", hashlib.sha256).hexdigest()
    assert signing.fin_hash("5ZK4R9P") == expected
    assert signing.fin_hash("5ZK4R9P") != hashlib.sha256(b"5ZK4R9P").hexdigest()
    salt = signing._settings["salt"]
    try:
        signing.configure("another-secret")
        assert signing.fin_hash("5ZK4R9P") != expected
    finally:
        signing.configure(salt)
    assert signing.derive_salt("a") != signing.derive_salt("b")


def test_stored_fin_hash_keeps_verifying_after_a_salt_change(session):
    notice = make_notice(session)
    salt = signing._settings["salt"]
    try:
        signing.configure("changed-after-issue")
        key = signing.public_key(session, notice.key_id)
        assert signing.signature_valid(key, signing.fields_of(notice, notice.application), notice.signature)
    finally:
        signing.configure(salt)


def test_jwks_verifies_a_signature_without_the_app(client, session):
    notice = make_notice(session)
    body = client.get("/.well-known/dost-keys.json").get_json()
    jwk = next(k for k in body["keys"] if k["kid"] == notice.key_id)
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["status"]) == ("OKP", "Ed25519", "EdDSA", "current")
    assert "d" not in jwk  # never the private part
    raw = base64.urlsafe_b64decode(jwk["x"] + "==")
    assert len(raw) == 32
    message = signing.canonical_bytes(signing.fields_of(notice, notice.application), notice.key_id)
    Ed25519PublicKey.from_public_bytes(raw).verify(base64.urlsafe_b64decode(notice.signature + "=="), message)


def test_cli_rotate_list_and_compromise(app, runner, session):
    notice = make_notice(session)
    result = runner.invoke(args=["dost", "keys", "rotate"])
    assert result.exit_code == 0, result.output
    new_kid = result.output.strip().rsplit(" ", 1)[1]
    listed = runner.invoke(args=["dost", "keys", "list"])
    assert notice.key_id in listed.output and "retired" in listed.output and new_kid in listed.output
    result = runner.invoke(args=["dost", "keys", "compromise", notice.key_id])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.scalar(select(SigningKey).where(SigningKey.kid == notice.key_id)).compromised_at is not None
    again = runner.invoke(args=["dost", "keys", "compromise", notice.key_id])
    assert again.exit_code != 0 and "artıq" in again.output
    unknown = runner.invoke(args=["dost", "keys", "compromise", "zzzzzzzz"])
    assert unknown.exit_code != 0 and "tapılmadı" in unknown.output


def test_walk_in_notice_signs_with_an_empty_voen(session):
    notice = make_notice(session, walk_in=True)
    fields = signing.fields_of(notice, notice.application)
    assert fields.insurer_voen == ""
    assert signing.signature_valid(signing.public_key(session, notice.key_id), fields, notice.signature)


def test_percent_encoding_round_trips_non_ascii_numbers(session):
    notice = make_notice(session, number="SSŞ-2026-ÇĞ0001")
    assert quote(notice.number, safe="") in signing.verification_url(notice, "https://h")
