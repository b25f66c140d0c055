"""Deterministic, idempotent demo data: insurers, credentials, people, certificates, contracts, centres, staff."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyotp
import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from dost.models import (
    BackOffice,
    Centre,
    CentreCategory,
    Certificate,
    CertificateStatus,
    Credential,
    CredentialKind,
    DocumentType,
    EmploymentContract,
    FundOffice,
    Gender,
    Insurer,
    InsurerType,
    Person,
    ServiceCode,
    ServiceSetting,
    StaffRole,
    StaffUser,
)
from dost.registries import embedded
from dost.services.passwords import hash_password

# Fixed reference day for generated validity periods, so two runs produce identical rows.
REFERENCE_DAY = date(2026, 1, 1)

FUND_OFFICES = [
    ("188", "Bakı şəhəri üzrə hüquqi şəxslərlə iş"),
    ("101", "Sumqayıt şəhər DSMF şöbəsi"),
    ("132", "Gəncə şəhər DSMF şöbəsi"),
]

INSURERS = [
    {
        "full_name": '"MƏKTƏBİ QURUP" MƏDƏNİYYƏT MƏRKƏZİ',
        "insurer_type": InsurerType.LEGAL,
        "dsmf_account": "9819854215",
        "voen": "9802091761",
        "responsible_person": "SƏMİR QƏLƏYEV NƏZƏR QƏLƏYEV",
        "office": "188",
    },
    {
        "full_name": '"ŞİRVAN ÇAY İSTEHSALAT" MƏHDUD MƏSULİYYƏTLİ CƏMİYYƏTİ',
        "insurer_type": InsurerType.LEGAL,
        "dsmf_account": "2204718836",
        "voen": "1403558271",
        "responsible_person": "GÜLNARƏ ŞÜKÜROVA İLHAM QIZI",
        "office": "101",
    },
    {
        "full_name": "FƏRDİ SAHİBKAR ÜLVİ ÇƏLƏBİYEV RÖVŞƏN OĞLU",
        "insurer_type": InsurerType.INDIVIDUAL,
        "dsmf_account": "5530294417",
        "voen": "2600417342",
        "responsible_person": "ÜLVİ ÇƏLƏBİYEV RÖVŞƏN OĞLU",
        "office": "132",
    },
]

SURNAMES_MALE = [
    "İSMAYILOV", "QƏLƏYEV", "ƏLİYEV", "HÜSEYNOV", "MƏMMƏDOV", "QULİYEV", "ŞÜKÜROV", "ÇƏLƏBİYEV", "AĞAYEV",
    "ÖMƏROV", "İBRAHİMOV", "NƏSİBOV", "BAĞIROV", "SÜLEYMANOV", "QASIMOV", "ƏSGƏROV", "CƏFƏROV", "XƏLİLOV",
    "RÜSTƏMOV", "ŞIXƏLİYEV", "ABBASOV", "VƏLİYEV", "HƏSƏNOV", "MUSAYEV",
]
NAMES_MALE = [
    "ELÇİN", "RÖVŞƏN", "ÜLVİ", "İLKİN", "TOĞRUL", "ŞAHİN", "NİCAT", "ORXAN", "FƏRİD", "ÇINGIZ", "ƏLİ",
    "MÜŞFİQ", "İLHAM", "ANAR", "RAŞAD", "SƏMİR", "VÜSAL", "KƏNAN",
]
NAMES_FEMALE = [
    "GÜLNARƏ", "ŞƏBNƏM", "AYTƏN", "LEYLA", "SEVİNC", "NƏRMİN", "ÜLKƏR", "GÜNEL", "ÇİÇƏK", "İLAHƏ", "AYGÜN",
    "KÖNÜL", "FİDAN", "ƏMİNƏ", "SÜDABƏ", "XƏDİCƏ",
]
FATHERS = [
    "NƏZƏR", "RAMİZ", "İLHAM", "ŞAHMAR", "QƏDİR", "ÖMƏR", "ÇƏRKƏZ", "HÜSEYN", "AĞASƏLİM", "VAQİF", "RÜFƏT",
    "ELDƏNİZ", "MÜBARİZ", "İSA", "FÜZULİ",
]
BIRTHPLACES = [
    "Bakı şəhəri", "Gəncə şəhəri", "Şəki rayonu", "Şamaxı rayonu", "Lənkəran rayonu", "Quba rayonu",
    "Sumqayıt şəhəri", "Naxçıvan şəhəri", "Ağdam rayonu", "Şuşa şəhəri", "Göyçay rayonu", "Qəbələ rayonu",
]
ISSUERS = ["Bakı şəhəri Nəsimi RPŞ", "Bakı şəhəri Yasamal RPŞ", "Gəncə şəhəri PŞ", "Sumqayıt şəhəri PŞ", "DİN ASAN 1"]
FOREIGN = [("Türkiyə Respublikası", "Ankara"), ("Gürcüstan", "Marneuli"), ("Rusiya Federasiyası", "Dərbənd")]

FIN_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

CENTRES = [
    ("BAK1", "1 saylı Bakı DOST Mərkəzi", CentreCategory.A, "Bakı"),
    ("BAK2", "2 saylı Bakı DOST Mərkəzi", CentreCategory.A, "Bakı"),
    ("SUM", "Sumqayıt DOST Mərkəzi", CentreCategory.B, "Abşeron-Xızı"),
    ("GNC", "Gəncə DOST Mərkəzi", CentreCategory.B, "Gəncə-Daşkəsən"),
    ("SEK", "Şəki DOST Mərkəzi", CentreCategory.C, "Şəki-Zaqatala"),
    ("QUB", "Quba DOST Mərkəzi", CentreCategory.D, "Quba-Xaçmaz"),
    ("LNK", "Lənkəran DOST Mərkəzi", CentreCategory.E, "Lənkəran-Astara"),
]


@dataclass
class DemoCredential:
    insurer: str
    kind: str
    seal: bool
    holder: str
    fin: str
    card_number: str = ""
    pin: str = ""
    mobile: str = ""
    asan_user_id: str = ""
    note: str = ""


# (insurer index or None, kind, seal, holder, fin, card/mobile, secret, note)
CREDENTIALS = [
    (0, "card", True, "SƏMİR QƏLƏYEV NƏZƏR OĞLU", "5ZK4R9P", "1000000001", "1111", ""),
    (0, "asan", True, "SƏMİR QƏLƏYEV NƏZƏR OĞLU", "5ZK4R9P", "+994501234567", "100001", ""),
    (0, "card", False, "AYTƏN İSMAYILOVA ELDƏNİZ QIZI", "6PL2M3T", "1000000002", "2222", ""),
    (1, "card", True, "GÜLNARƏ ŞÜKÜROVA İLHAM QIZI", "3XJ8Q2W", "2000000001", "3333", ""),
    (1, "asan", True, "GÜLNARƏ ŞÜKÜROVA İLHAM QIZI", "3XJ8Q2W", "+994552345678", "200001", ""),
    (1, "asan", False, "ORXAN BAĞIROV VAQİF OĞLU", "7HT5N1K", "+994703456789", "200002", ""),
    (2, "card", True, "ÜLVİ ÇƏLƏBİYEV RÖVŞƏN OĞLU", "2BC7D4F", "3000000001", "4444", ""),
    (2, "asan", True, "ÜLVİ ÇƏLƏBİYEV RÖVŞƏN OĞLU", "2BC7D4F", "+994774567890", "300001", ""),
    (2, "card", False, "LEYLA ÖMƏROVA FÜZULİ QIZI", "4GH6J8L", "3000000002", "5555", ""),
    (None, "card", False, "KƏNAN HƏSƏNOV MÜBARİZ OĞLU", "8MN3P5R", "9000000001", "6666", "expired"),
    (None, "card", False, "FİDAN NƏSİBOVA RÜFƏT QIZI", "9QR2S4T", "9000000002", "7777", "no insurer"),
]

STAFF = [
    ("agent.bak1", "LALƏ MƏMMƏDOVA", StaffRole.AGENT, "BAK1", None, None, "Agent-Baki1-2026"),
    ("agent.sum", "RAŞAD QULİYEV", StaffRole.AGENT, "SUM", None, None, "Agent-Sumqayit-2026"),
    ("backoffice.dsmf", "NƏRMİN ƏSGƏROVA", StaffRole.BACKOFFICE, None, BackOffice.DSMF, None, "Arxa-Ofis-2026"),
    ("supervisor.baki", "ELÇİN RÜSTƏMOV", StaffRole.SUPERVISOR, None, None, "Bakı", "Nezaret-Baki-2026"),
    ("admin", "SEVİNC ABBASOVA", StaffRole.ADMIN, None, None, None, "Admin-DOST-2026"),
]


@dataclass
class DemoReport:
    credentials: list[DemoCredential] = field(default_factory=list)
    staff: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)


def credential_validity(note: str) -> tuple[date, date]:
    """The validity of a demo e-signature certificate (the same in the app and in the demo identity provider)."""
    valid_from = REFERENCE_DAY - timedelta(days=365)
    return valid_from, REFERENCE_DAY - timedelta(days=30) if note == "expired" else date(2029, 12, 31)


def _fin(rng: random.Random) -> str:
    return "".join(rng.choice(FIN_ALPHABET) for _ in range(7))


def _totp_secret(username: str) -> str:
    # Deterministic per user so the printed enrolment QR stays valid across runs; demo only.
    import base64
    import hashlib

    return base64.b32encode(hashlib.sha256(f"dost-demo-totp:{username}".encode()).digest()[:20]).decode()


def _get_or_create(session: Session, model, key: dict, values: dict, report: DemoReport):
    existing = session.scalar(select(model).filter_by(**key))
    if existing is not None:
        return existing
    obj = model(**key, **values)
    session.add(obj)
    session.flush()
    report.created[model.__name__] = report.created.get(model.__name__, 0) + 1
    return obj


def load(session: Session, instance_path: str | None = None, persons: int = 72) -> DemoReport:
    """Create the demo data set (only what is missing) and return the sign-in details."""
    rng = random.Random(20261121)  # noqa: S311 - demo data, not security
    report = DemoReport()

    offices = {
        code: _get_or_create(session, FundOffice, {"code": code}, {"name": name}, report)
        for code, name in FUND_OFFICES
    }
    insurers = []
    for spec in INSURERS:
        values = {k: v for k, v in spec.items() if k not in ("voen", "office")}
        values["fund_office_id"] = offices[spec["office"]].id
        insurers.append(_get_or_create(session, Insurer, {"voen": spec["voen"]}, values, report))

    for service in ServiceCode:
        _get_or_create(session, ServiceSetting, {"service": service}, {
            "total_days": 30, "front_office_days": 2, "back_office_days": 28, "working_days": False}, report)

    for index, kind, seal, holder, fin, ident, secret, note in CREDENTIALS:
        valid_from, valid_until = credential_validity(note)
        values = {
            "fin": fin,
            "holder_name": holder,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "seal_insurer_id": insurers[index].id if seal and index is not None else None,
        }
        insurer_name = insurers[index].full_name if index is not None else "—"
        if kind == "card":
            _get_or_create(session, Credential, {"kind": CredentialKind.CARD, "card_number": ident},
                           {**values, "pin_hash": embedded.hash_pin(secret)}, report)
            report.credentials.append(DemoCredential(insurer_name, "RYTN e-İmza kartı", seal, holder, fin,
                                                     card_number=ident, pin=secret, note=note))
        else:
            _get_or_create(session, Credential, {"kind": CredentialKind.ASAN, "mobile_number": ident},
                           {**values, "asan_user_id": secret}, report)
            report.credentials.append(DemoCredential(insurer_name, "Asan İmza", seal, holder, fin,
                                                     mobile=ident, asan_user_id=secret, note=note))

    _load_credential_holders(session, report)
    _load_people(session, rng, insurers, persons, report)

    centres = {
        code: _get_or_create(session, Centre, {"code": code}, {"name": name, "category": category, "region": region},
                             report)
        for code, name, category, region in CENTRES
    }
    for username, full_name, role, centre_code, back_office, region, password in STAFF:
        secret = _totp_secret(username)
        _get_or_create(session, StaffUser, {"username": username}, {
            "full_name": full_name,
            "password_hash": hash_password(password),
            "totp_secret": secret,
            "role": role,
            "centre_id": centres[centre_code].id if centre_code else None,
            "back_office": back_office,
            "region": region,
        }, report)
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="DOST SSŞ")
        qr_path = ""
        if instance_path:
            target = Path(instance_path) / "totp"
            target.mkdir(parents=True, exist_ok=True)
            qr_path = str(target / f"{username}.svg")
            segno.make(uri, error="m").save(qr_path, scale=4)
        report.staff.append((username, role.value, password, secret, qr_path))
    session.flush()
    return report


def _load_credential_holders(session: Session, report: DemoReport) -> None:
    """Every e-signature holder is also in the population registry, so grants to them can be checked."""
    for number, (_, _, _, holder, fin, _, _, _) in enumerate(CREDENTIALS):
        name, surname, father, suffix = holder.split()
        _get_or_create(session, Person, {"fin": fin}, {
            "document_type": DocumentType.ID_CARD,
            "document_number": f"AA{7100000 + number}",
            "surname": surname,
            "name": name,
            "patronymic": f"{father} {suffix}",
            "gender": Gender.FEMALE if suffix == "QIZI" else Gender.MALE,
            "citizenship": "Azərbaycan Respublikası",
            "birthplace": BIRTHPLACES[number % len(BIRTHPLACES)],
            "birth_date": date(1975 + number, 3, 1 + number),
            "issuing_authority": ISSUERS[number % len(ISSUERS)],
            "issue_date": date(2019, 5, 1 + number),
        }, report)


def _load_people(session: Session, rng: random.Random, insurers: list[Insurer], count: int, report: DemoReport):
    employers = [0] * 30 + [1] * 20 + [2] * 12
    for number in range(count):
        female = number % 3 == 1
        surname = rng.choice(SURNAMES_MALE)
        if female:
            surname = surname + "A"
        name = rng.choice(NAMES_FEMALE if female else NAMES_MALE)
        father = rng.choice(FATHERS)
        patronymic = f"{father} {'QIZI' if female else 'OĞLU'}"
        foreign = number % 17 == 5
        citizenship, birthplace = (rng.choice(FOREIGN) if foreign else ("Azərbaycan Respublikası",
                                                                        rng.choice(BIRTHPLACES)))
        birth_date = date(1960, 1, 1) + timedelta(days=rng.randrange(0, 365 * 42))
        issue_date = date(2015, 1, 1) + timedelta(days=rng.randrange(0, 365 * 10))
        fin = _fin(rng)
        document_number = ("MYİ" if foreign else "AA") + f"{rng.randrange(10**6, 10**7)}"
        ssn = f"{rng.randrange(10**12, 10**13)}"
        certificate_date = date(2005, 1, 1) + timedelta(days=rng.randrange(0, 365 * 18))
        person = _get_or_create(session, Person, {"fin": fin}, {
            "document_type": DocumentType.MIGRATION if foreign else DocumentType.ID_CARD,
            "document_number": document_number,
            "surname": surname,
            "name": name,
            "patronymic": patronymic,
            "gender": Gender.FEMALE if female else Gender.MALE,
            "citizenship": citizenship,
            "birthplace": birthplace,
            "birth_date": birth_date,
            "issuing_authority": "Dövlət Miqrasiya Xidməti" if foreign else rng.choice(ISSUERS),
            "issue_date": issue_date,
        }, report)
        _get_or_create(session, Certificate, {"person_id": person.id, "ssn": ssn}, {
            "issue_date": certificate_date, "status": CertificateStatus.ACTIVE}, report)
        if number < len(employers):
            insurer = insurers[employers[number]]
            start = date(2018, 1, 1) + timedelta(days=rng.randrange(0, 365 * 6))
            # Every tenth contract has ended: the person is not employed there today.
            end = date(2025, 6, 30) if number % 10 == 9 else None
            _get_or_create(session, EmploymentContract, {"insurer_id": insurer.id, "person_id": person.id}, {
                "start_date": start, "end_date": end}, report)


def format_provider_note(enabled: bool, identity_provider: str = "") -> str:
    """Whether the demo providers are on (the identity provider's sign-in and phone, the signing phone), and how to
    switch them."""
    if enabled:
        where = (f"Sign in at the demo identity provider ({identity_provider}); confirm Asan İmza sign-ins and "
                 f"signing on its simulated phone, {identity_provider}/asan-phone?mobile=%2B994501234567. "
                 if identity_provider else "")
        return f"Demo signature provider: ON. {where}Every page says this is not a production system."
    return ("Demo signature provider: OFF (the default). The demo identity provider and its simulated Asan İmza "
            "phone need DOST_DEMO_PROVIDERS=1 and DOST_DEMO_IDP_ISSUER when starting the app; `make run` sets both. "
            "Never set them on a production system: the provider signs anyone in.")


def format_report(report: DemoReport) -> str:
    """Sign-in details, printed by `flask dost demo`."""
    lines = ["Demo sign-in (employer e-signatures):"]
    for c in report.credentials:
        secret = f"card {c.card_number} PIN {c.pin}" if c.card_number else f"Asan {c.mobile} user ID {c.asan_user_id}"
        role = "seal authority" if c.seal else "no seal authority"
        note = f" [{c.note}]" if c.note else ""
        lines.append(f"  {c.kind:18} {secret:40} {role:18} {c.fin}  {c.insurer}{note}")
    lines.append("Demo sign-in (DOST staff, /staff; TOTP secret for an authenticator app):")
    for username, role, password, secret, qr_path in report.staff:
        lines.append(f"  {username:18} {role:11} password {password:22} TOTP {secret}")
        if qr_path:
            lines.append(f"  {'':18} enrolment QR: {qr_path}")
    created = ", ".join(f"{k} {v}" for k, v in sorted(report.created.items())) or "nothing (already loaded)"
    lines.append(f"Created: {created}")
    return "\n".join(lines)
