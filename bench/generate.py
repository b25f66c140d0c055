"""Deterministic benchmark data: N applications over N/50 insurers (Zipf-skewed; the largest, N/10 rows, is the
demo insurer "MƏKTƏBİ QURUP"), with their persons, certificates and signed notices, bulk-loaded.

The schema comes from the migrations and the demo data from `dost.demo.load`, so the demo seal holder
(card 1000000001, PIN 1111) signs in and sees the largest insurer's rows. Every confirmed application has a
notice with a valid Ed25519 signature; their PDF column shares one tiny placeholder PDF (the database stays small),
except a few of the demo insurer's notices, which hold the real rendered PDF for the re-download benchmark.

`python -m bench.generate --applications 20000 [--backend sqlite|postgresql|both] [--regenerate]`
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from bench.common import (
    FULL_SIZE,
    GENERATOR_VERSION,
    PG_SERVER,
    ROOT,
    TYPICAL_SEAL_CARD,
    build_app,
    database_name,
    database_url,
    sqlite_path,
)

SEED = 20261121
CHUNK = 20_000
REAL_NOTICES = 20
START_DAY = date(2023, 1, 2)
END_DAY = date(2026, 11, 20)
LOADED_TABLES = ("insurer", "credential", "person", "certificate", "application", "notice")

COMPANY_WORDS = [
    "XƏZƏR", "ŞİRVAN", "QARABAĞ", "ABŞERON", "GƏNCƏ", "NAXÇIVAN", "KÜR", "ARAZ", "ŞAHDAĞ", "GÖYGÖL", "SAHİL",
    "LƏNKƏRAN", "QUBA", "ŞƏKİ", "MİNGƏÇEVİR", "ZAQATALA", "ÇİNAR", "NURLU", "ULDUZ", "İPƏK YOLU", "ODLAR",
    "GÜNƏŞ", "MƏRCAN", "QIZILGÜL", "ÜFÜQ", "İNCİ", "DAN ULDUZU", "QOBUSTAN",
]
ACTIVITIES = [
    "TİKİNTİ", "TİCARƏT", "NƏQLİYYAT", "AQRO", "ÇAY İSTEHSALAT", "LOGİSTİKA", "SƏHİYYƏ", "TƏHSİL", "ENERJİ",
    "İNŞAAT", "TEKSTİL", "QİDA", "TURİZM", "İT XİDMƏTLƏRİ", "MEBEL", "ÜZÜMÇÜLÜK", "SIĞORTA", "DİZAYN",
]
LEGAL_FORMS = [
    "MƏHDUD MƏSULİYYƏTLİ CƏMİYYƏTİ", "MMC", "AÇIQ SƏHMDAR CƏMİYYƏTİ", "QAPALI SƏHMDAR CƏMİYYƏTİ",
]
REFUSAL_COMMENTS = {
    "incomplete_documents": "Təqdim olunan sənədlər natamamdır.",
    "no_legal_basis": "Müraciət üçün hüquqi əsas yoxdur.",
}
OPEN = ("draft", "submitted", "verified", "ordered", "ready")
VERSIONS = {"draft": 1, "submitted": 2, "verified": 3, "ordered": 4, "ready": 5, "delivered": 6, "refused": 3}


def placeholder_pdf() -> bytes:
    """A minimal valid one-page PDF (about 300 bytes), shared by the notices whose bytes nobody benchmarks."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PLACEHOLDER_PDF = placeholder_pdf()
PLACEHOLDER_SHA256 = hashlib.sha256(PLACEHOLDER_PDF).hexdigest()


# --- the plan -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    applications: int
    insurers: int
    largest: int

    @classmethod
    def for_size(cls, applications: int) -> Plan:
        """1,000,000 → 20,000 insurers, the largest with 100,000; smaller sizes scale the same way."""
        return cls(applications, max(10, applications // 50), max(1, applications // 10))

    def sizes(self) -> list[int]:
        """Applications per insurer, largest first: the largest fixed, the rest Zipf (1/k), at least one each."""
        rest = self.applications - self.largest
        others = self.insurers - 1
        weights = [1 / k for k in range(2, others + 2)]
        total_weight = sum(weights)
        sizes = [max(1, int(rest * w / total_weight)) for w in weights]
        missing = rest - sum(sizes)
        index = 0
        while missing != 0:
            step = 1 if missing > 0 else -1
            if sizes[index] + step >= 1:
                sizes[index] += step
                missing -= step
            index = (index + 1) % others
        return [self.largest, *sizes]

    @property
    def typical_index(self) -> int:
        """The median-sized insurer (by rank), whose seal holder signs in with TYPICAL_SEAL_CARD."""
        return self.insurers // 2


# --- deterministic identifiers ----------------------------------------------------------------------------

FIN_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # as dost/demo.py: no I, no O
FIN_SPACE = len(FIN_ALPHABET) ** 7
SSN_SPACE = 9 * 10**12


def fin_for(counter: int) -> str:
    """A bijection of the counter onto 7-character FİNs that looks random (an affine map modulo 34^7)."""
    value = (counter * 2_654_435_761 + 1_234_567_891) % FIN_SPACE
    chars = []
    for _ in range(7):
        value, digit = divmod(value, len(FIN_ALPHABET))
        chars.append(FIN_ALPHABET[digit])
    return "".join(chars)


def ssn_for(counter: int) -> str:
    """Distinct 13-digit SSNs for distinct counters."""
    return str(10**12 + (counter * 1_000_003 + 987_654_321) % SSN_SPACE)


# --- writers ------------------------------------------------------------------------------------------------


class Writer:
    """Bulk-loads rows into one database with its indexes and constraints dropped, then rebuilds them."""

    backend = ""

    def __init__(self, engine) -> None:
        self.engine = engine

    def prepare(self) -> None: ...

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None: ...

    def commit(self) -> None: ...

    def finish(self, log: Callable[[str], None]) -> None: ...


class SqliteWriter(Writer):
    """SQLAlchemy Core `insert()` executemany in large batches on one connection, foreign keys off."""

    backend = "sqlite"

    def prepare(self) -> None:
        from dost.models import Base

        self.tables = Base.metadata.tables
        self.conn = self.engine.connect()
        for pragma in ("foreign_keys=OFF", "synchronous=OFF", "cache_size=-400000", "temp_store=MEMORY"):
            self.conn.exec_driver_sql(f"PRAGMA {pragma}")
        names = ", ".join(f"'{t}'" for t in LOADED_TABLES)
        self.indexes = self.conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "  # noqa: S608
            f"AND tbl_name IN ({names})"
        ).all()
        for name, _sql in self.indexes:
            self.conn.exec_driver_sql(f'DROP INDEX "{name}"')
        self.conn.commit()

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if rows:
            self.conn.execute(self.tables[table].insert(), [dict(zip(columns, row, strict=True)) for row in rows])

    def commit(self) -> None:
        self.conn.commit()

    def finish(self, log: Callable[[str], None]) -> None:
        started = time.monotonic()
        for _name, sql in self.indexes:
            self.conn.exec_driver_sql(sql)
        from dost.models import APPLICATION_RECOUNT

        # The triggers kept the insurers' application counts during the load; recounting proves nothing drifted.
        self.conn.exec_driver_sql(APPLICATION_RECOUNT)
        self.conn.commit()
        log(f"  sqlite: {len(self.indexes)} indexes rebuilt in {time.monotonic() - started:.1f} s")
        self.conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


class PostgresWriter(Writer):
    """psycopg COPY into the tables, with their indexes, unique and foreign-key constraints rebuilt afterwards."""

    backend = "postgresql"

    def prepare(self) -> None:
        self.sa_conn = self.engine.connect()
        self.raw = self.sa_conn.connection.driver_connection
        self.raw.execute("SET synchronous_commit = off")
        self.raw.execute("SET maintenance_work_mem = '512MB'")
        # No row triggers during COPY (the application counts are recounted once in finish()).
        self.raw.execute("SET session_replication_role = replica")
        tables = list(LOADED_TABLES)
        self.constraints = self.raw.execute(
            "SELECT conname, conrelid::regclass::text, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
            (tables,),
        ).fetchall()
        self.indexes = self.raw.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
            (tables,),
        ).fetchall()
        # Drop foreign keys before unique constraints ('f' < 'u'); finish() adds them back in the opposite order.
        for name, table, _kind, _definition in sorted(self.constraints, key=lambda c: c[2]):
            self.raw.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in self.indexes:
            self.raw.execute(f'DROP INDEX "{name}"')
        self.raw.commit()

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        with self.raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        self.raw.commit()

    def finish(self, log: Callable[[str], None]) -> None:
        started = time.monotonic()
        for _name, definition in self.indexes:
            self.raw.execute(definition)
        # Unique constraints before foreign keys (the ORDER BY above lists 'u' first).
        for name, table, _kind, definition in self.constraints:
            self.raw.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for table in LOADED_TABLES:
            self.raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
            )
        from dost.models import APPLICATION_RECOUNT

        self.raw.execute("SET session_replication_role = origin")
        self.raw.execute(APPLICATION_RECOUNT)
        self.raw.commit()
        log(f"  postgresql: {len(self.indexes)} indexes and {len(self.constraints)} constraints rebuilt "
            f"in {time.monotonic() - started:.1f} s")
        self.sa_conn.close()


# --- generation ---------------------------------------------------------------------------------------------


@dataclass
class Context:
    """What the generator needs from the freshly migrated database with demo data."""

    demo_insurer_id: int
    demo_seal_credential_id: int
    fund_office_ids: list[int]
    next_ids: dict[str, int]
    existing_fins: set[str]
    kid: str
    private_key: bytes


def bench_number(year: int, application_id: int) -> str:
    """A public number of the app's form, distinct per id without a draw: the id times an odd constant, modulo
    32^7, is a bijection (random draws over a million rows would collide a few times)."""
    from dost.services import public_numbers

    alphabet, size = public_numbers.ALPHABET, len(public_numbers.ALPHABET)
    value = (application_id * 0x2F1B_4A3D) % size ** public_numbers.RANDOM_SYMBOLS
    body = ""
    for _ in range(public_numbers.RANDOM_SYMBOLS):
        value, digit = divmod(value, size)
        body += alphabet[digit]
    code = body + public_numbers.check_symbol(body)
    return f"{public_numbers.PREFIX}-{year:04d}-{code[:4]}-{code[4:]}"


INSURER_COLUMNS = ("id", "full_name", "insurer_type", "dsmf_account", "voen", "responsible_person", "fund_office_id")
CREDENTIAL_COLUMNS = ("id", "kind", "card_number", "fin", "holder_name", "valid_from", "valid_until", "pin_hash",
                      "seal_insurer_id")
PERSON_COLUMNS = ("id", "fin", "document_type", "document_number", "surname", "name", "patronymic", "gender",
                  "citizenship", "birthplace", "birth_date", "issuing_authority", "issue_date")
CERTIFICATE_COLUMNS = ("id", "ssn", "person_id", "issue_date", "status", "replaced_by_id")
APPLICATION_COLUMNS = (
    "id", "insurer_id", "person_id", "certificate_id", "channel", "document_type", "reason", "application_type",
    "status", "fin", "ssn", "ssn_date", "surname", "name", "patronymic", "surname_key", "name_key",
    "patronymic_key", "created_at", "updated_at", "application_date", "created_by_credential_id",
    "registration_number", "submitted_at", "content_sha256", "signed_by_credential_id", "signed_authority",
    "deadline", "front_office_deadline", "refusal_ground", "refusal_comment", "new_certificate_id", "completed_at",
    "version", "open_key",
)
NOTICE_COLUMNS = ("id", "application_id", "number", "issued_at", "pdf", "pdf_sha256", "key_id", "signature",
                  "verification_code", "fin_hash")


def _insurer_rows(plan: Plan, ctx: Context, rng: random.Random) -> tuple[list[tuple], list[int], list[str]]:
    """Insurer rows for all but the demo insurer; returns (rows, insurer ids by rank, VÖENs by rank)."""
    from dost import demo

    rows, ids, voens = [], [ctx.demo_insurer_id], [demo.INSURERS[0]["voen"]]
    next_id = ctx.next_ids["insurer"]
    for rank in range(1, plan.insurers):
        individual = rank % 7 == 3
        female = rng.random() < 0.3
        surname = rng.choice(demo.SURNAMES_MALE) + ("A" if female else "")
        given = rng.choice(demo.NAMES_FEMALE if female else demo.NAMES_MALE)
        father = rng.choice(demo.FATHERS)
        person = f"{given} {surname} {father} {'QIZI' if female else 'OĞLU'}"
        if individual:
            full_name = f"FƏRDİ SAHİBKAR {person}"
        else:
            full_name = f'"{rng.choice(COMPANY_WORDS)} {rng.choice(ACTIVITIES)}" {rng.choice(LEGAL_FORMS)}'
        voen = f"5{rank:08d}{'2' if individual else '1'}"
        rows.append((next_id, full_name, "individual" if individual else "legal", f"7{rank:09d}", voen, person,
                     ctx.fund_office_ids[rank % len(ctx.fund_office_ids)]))
        ids.append(next_id)
        voens.append(voen)
        next_id += 1
    return rows, ids, voens


def generate_rows(plan: Plan, ctx: Context) -> Iterator[dict[str, tuple[tuple[str, ...], list[tuple]]]]:
    """Batches of rows per table, in an order that satisfies every foreign key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from dost import demo
    from dost.registries import embedded
    from dost.services import applications, signing
    from dost.timeutil import local
    from dost.validation import search_key

    rng = random.Random(SEED)
    insurers, insurer_ids, voens = _insurer_rows(plan, ctx, rng)
    typical_credential_id = ctx.next_ids["credential"]
    credentials = [(typical_credential_id, "card", TYPICAL_SEAL_CARD[0], "7BNCH01", "NİCAT HƏSƏNOV VAQİF OĞLU",
                    date(2025, 1, 1), date(2029, 12, 31), embedded.hash_pin(TYPICAL_SEAL_CARD[1]),
                    insurer_ids[plan.typical_index])]
    yield {"insurer": (INSURER_COLUMNS, insurers), "credential": (CREDENTIAL_COLUMNS, credentials)}

    signer = Ed25519PrivateKey.from_private_bytes(ctx.private_key)
    signers = {0: ctx.demo_seal_credential_id, plan.typical_index: typical_credential_id}
    owners = [rank for rank, size in enumerate(plan.sizes()) for _ in range(size)]
    rng.shuffle(owners)
    span = (END_DAY - START_DAY).days
    reasons = list(applications.REASON_TYPES)
    person_id, certificate_id = ctx.next_ids["person"], ctx.next_ids["certificate"]
    application_id, notice_id = ctx.next_ids["application"], ctx.next_ids["notice"]
    fin_counter = ssn_counter = 0
    code_alphabet = signing.CODE_ALPHABET
    recent_from = int(plan.applications * 0.96)

    for start in range(0, plan.applications, CHUNK):
        persons, certificates, rows, notices = [], [], [], []
        for index in range(start, min(start + CHUNK, plan.applications)):
            rank = owners[index]
            insurer_id = insurer_ids[rank]
            female = rng.random() < 0.45
            surname = rng.choice(demo.SURNAMES_MALE) + ("A" if female else "")
            name = rng.choice(demo.NAMES_FEMALE if female else demo.NAMES_MALE)
            patronymic = f"{rng.choice(demo.FATHERS)} {'QIZI' if female else 'OĞLU'}"
            foreign = rng.random() < 0.06
            while True:
                fin = fin_for(fin_counter)
                fin_counter += 1
                if fin not in ctx.existing_fins:
                    break
            citizenship, birthplace = (rng.choice(demo.FOREIGN) if foreign
                                       else ("Azərbaycan Respublikası", rng.choice(demo.BIRTHPLACES)))
            document_type = "migration" if foreign else "din"
            persons.append((
                person_id, fin, document_type, ("MYİ" if foreign else "AA") + str(rng.randrange(10**6, 10**7)),
                surname, name, patronymic, "female" if female else "male", citizenship, birthplace,
                date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 44)),
                "Dövlət Miqrasiya Xidməti" if foreign else rng.choice(demo.ISSUERS),
                date(2015, 1, 1) + timedelta(days=rng.randrange(365 * 8)),
            ))

            if index >= recent_from:
                status = rng.choices(OPEN, weights=(20, 40, 20, 10, 10))[0]
            else:
                draw = rng.random()
                status = "draft" if draw < 0.02 else "refused" if draw < 0.12 else "delivered"
            ssn = ssn_for(ssn_counter)
            ssn_counter += 1
            ssn_date = date(2005, 1, 1) + timedelta(days=rng.randrange(365 * 17))
            old_certificate = certificate_id
            new_certificate = None
            if status == "delivered":
                new_certificate = certificate_id + 1
                certificates.append((old_certificate, ssn, person_id, ssn_date, "replaced", new_certificate))
                certificates.append((new_certificate, ssn_for(ssn_counter), person_id,
                                     ssn_date, "active", None))
                ssn_counter += 1
                certificate_id += 2
            else:
                certificates.append((old_certificate, ssn, person_id, ssn_date, "active", None))
                certificate_id += 1

            day = START_DAY + timedelta(days=index * span // plan.applications)
            # 09:00-18:00 in Baku (UTC+4), stored as UTC like utcnow().
            created_at = datetime(day.year, day.month, day.day, 5, tzinfo=UTC) + timedelta(
                minutes=rng.randrange(540), seconds=rng.randrange(60))
            reason = rng.choice(reasons)
            app_type = applications.REASON_TYPES[reason]
            credential = signers.get(rank)
            row = {
                "submitted_at": None, "registration_number": None, "content_sha256": None, "deadline": None,
                "front_office_deadline": None, "completed_at": None, "refusal_ground": None, "refusal_comment": None,
            }
            if status != "draft":
                submitted_at = created_at + timedelta(minutes=rng.randrange(3, 30))
                row["submitted_at"] = submitted_at
                row["registration_number"] = bench_number(day.year, application_id)
                row["deadline"] = day + timedelta(days=30)
                row["front_office_deadline"] = day + timedelta(days=2)
                signed = SimpleNamespace(
                    insurer_id=insurer_id, document_type=SimpleNamespace(value=document_type), fin=fin, ssn=ssn,
                    surname=surname, name=name, patronymic=patronymic, reason=reason, application_type=app_type,
                    application_date=day)
                row["content_sha256"] = hashlib.sha256(applications.canonical_content(signed)).hexdigest()
                if status == "delivered":
                    row["completed_at"] = submitted_at + timedelta(days=rng.randrange(5, 28))
                elif status == "refused":
                    ground = rng.choice(list(REFUSAL_COMMENTS))
                    row["refusal_ground"], row["refusal_comment"] = ground, REFUSAL_COMMENTS[ground]
                    row["completed_at"] = submitted_at + timedelta(days=rng.randrange(3, 20))
                fin_hash = signing.fin_hash(fin)
                fields = signing.NoticeFields(
                    application_type=app_type.value, number=row["registration_number"],
                    issue_date=local(submitted_at).date(), insurer_voen=voens[rank], fin_hash=fin_hash,
                    deadline=row["deadline"])
                signature = signing.b64url(signer.sign(signing.canonical_bytes(fields, ctx.kid)))
                code = "".join(rng.choice(code_alphabet) for _ in range(signing.CODE_LENGTH))
                notices.append((notice_id, application_id, row["registration_number"], submitted_at,
                                 PLACEHOLDER_PDF, PLACEHOLDER_SHA256, ctx.kid, signature, code, fin_hash))
                notice_id += 1
            updated_at = row["completed_at"] or row["submitted_at"] or created_at
            rows.append((
                application_id, insurer_id, person_id, old_certificate, "online", document_type, reason.value,
                app_type.value, status, fin, ssn, ssn_date, surname, name, patronymic,
                search_key(surname), search_key(name), search_key(patronymic), created_at, updated_at, day, credential,
                row["registration_number"], row["submitted_at"], row["content_sha256"],
                credential if status != "draft" else None, "seal" if credential and status != "draft" else None,
                row["deadline"], row["front_office_deadline"], row["refusal_ground"], row["refusal_comment"],
                new_certificate, row["completed_at"], VERSIONS[status],
                (f"draft:{insurer_id}:{person_id}" if status == "draft" else f"person:{person_id}")
                if status in OPEN else None,
            ))
            person_id += 1
            application_id += 1
        yield {
            "person": (PERSON_COLUMNS, persons),
            "certificate": (CERTIFICATE_COLUMNS, certificates),
            "application": (APPLICATION_COLUMNS, rows),
            "notice": (NOTICE_COLUMNS, notices),
        }


# --- databases ----------------------------------------------------------------------------------------------


def migration_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head() or ""


def marker(applications: int) -> str:
    return f"dost-bench v{GENERATOR_VERSION} applications={applications} head={migration_head()}"


def _pg_admin():
    import psycopg

    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5)


def state(backend: str, applications: int) -> str:
    """'ready', 'stale' (complete, but the migrations moved on since) or 'missing' (absent or incomplete)."""
    if backend == "sqlite":
        import sqlite3

        path = sqlite_path(applications)
        if not path.exists():
            return "missing"
        with sqlite3.connect(path) as conn:
            try:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.DatabaseError:
                return "missing"
        if row is None:
            return "missing"
        return "ready" if row[0] == migration_head() else "stale"
    with _pg_admin() as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (database_name(applications),)).fetchone()
    if row is None or not row[0] or not row[0].startswith(marker(applications).rsplit(" head=", 1)[0] + " "):
        return "missing"
    return "ready" if row[0] == marker(applications) else "stale"


def upgrade_schema(backend: str, applications: int, log: Callable[[str], None]) -> None:
    """Bring a cached data set to the current migrations, as a production database would be."""
    from flask_migrate import upgrade

    from dost.extensions import db

    started = time.monotonic()
    app = build_app(database_url(backend, applications))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    if backend == "postgresql":
        with _pg_admin() as conn:
            conn.execute(f'COMMENT ON DATABASE "{database_name(applications)}" IS \'{marker(applications)}\'')
    log(f"  {backend}: cached data set migrated to {migration_head()} in {time.monotonic() - started:.1f} s")


def _fresh_target(backend: str, applications: int) -> str:
    """An empty database to generate into; returns its URL."""
    if backend == "sqlite":
        final = sqlite_path(applications)
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_suffix(".partial")
        for path in (final, partial):
            for suffix in ("", "-wal", "-shm"):
                candidate = path.with_name(path.name + suffix)
                if candidate.exists():
                    candidate.unlink()
        return f"sqlite:///{partial}"
    name = database_name(applications)
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url("postgresql", applications)


def _complete(backend: str, applications: int) -> None:
    if backend == "sqlite":
        final = sqlite_path(applications)
        final.with_suffix(".partial").rename(final)
        return
    with _pg_admin() as conn:
        conn.execute(f'COMMENT ON DATABASE "{database_name(applications)}" IS '
                     f"'{marker(applications)}'")
        # Fresh statistics and a set visibility map, as autovacuum leaves a table that has been loaded.
    import psycopg

    with psycopg.connect(database_url("postgresql", applications), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def _schema_and_demo(app) -> Context:
    """Migrate, load the demo data, add a deterministic signing key; read what generation needs."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from dost import demo
    from dost.extensions import db
    from dost.models import Credential, FundOffice, Insurer, Person, SigningKey
    from dost.services import signing
    from dost.timeutil import utcnow

    with app.app_context():
        upgrade()
        demo.load(db.session)
        private_raw = hashlib.sha256(f"dost-bench-signing-key:{SEED}".encode()).digest()
        public_raw = Ed25519PrivateKey.from_private_bytes(private_raw).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kid = signing._new_kid(public_raw)
        if db.session.scalar(select(SigningKey).where(SigningKey.kid == kid)) is None:
            db.session.add(SigningKey(kid=kid, private_key=private_raw, public_key=public_raw, created_at=utcnow()))
        db.session.commit()
        demo_insurer = db.session.scalar(select(Insurer).where(Insurer.voen == demo.INSURERS[0]["voen"]))
        seal = db.session.scalar(select(Credential).where(Credential.card_number == "1000000001"))
        from dost.models import Application, Certificate, Notice

        next_ids = {
            model.__tablename__: (db.session.scalar(select(func.max(model.id))) or 0) + 1
            for model in (Insurer, Credential, Person, Certificate, Application, Notice)
        }
        return Context(
            demo_insurer_id=demo_insurer.id,
            demo_seal_credential_id=seal.id,
            fund_office_ids=list(db.session.scalars(select(FundOffice.id).order_by(FundOffice.id))),
            next_ids=next_ids,
            existing_fins=set(db.session.scalars(select(Person.fin))) | set(db.session.scalars(select(Credential.fin))),
            kid=kid,
            private_key=private_raw,
        )


def _real_notices(app, log: Callable[[str], None]) -> None:
    """Render the real PDF of the demo insurer's newest notices, as confirmation stores it."""
    from sqlalchemy import select

    from dost import demo
    from dost.extensions import db
    from dost.models import Application, Insurer, Notice
    from dost.services import notice_pdf, signing

    with app.app_context():
        insurer_id = db.session.scalar(select(Insurer.id).where(Insurer.voen == demo.INSURERS[0]["voen"]))
        notices = db.session.scalars(
            select(Notice).join(Application, Notice.application_id == Application.id)
            .where(Application.insurer_id == insurer_id).order_by(Notice.id.desc()).limit(REAL_NOTICES)
        ).all()
        for notice in notices:
            pdf = notice_pdf.render_notice(notice.application, notice,
                                           signing.verification_url(notice, app.config["PUBLIC_BASE_URL"]))
            notice.pdf = pdf
            notice.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
        db.session.commit()
        sizes = sorted(len(notice.pdf) for notice in notices)
        log(f"  {len(notices)} real notice PDFs stored (median {sizes[len(sizes) // 2] if sizes else 0} bytes)")


def ensure(backends: list[str], applications: int, regenerate: bool = False,
           log: Callable[[str], None] = print) -> None:
    """Generate the databases that are missing (or all of them with regenerate), in one pass over the rows."""
    states = {backend: "missing" if regenerate else state(backend, applications) for backend in backends}
    for backend in [b for b, s in states.items() if s == "stale"]:
        try:
            upgrade_schema(backend, applications, log)
            states[backend] = "ready"
        except Exception as error:  # a migration that cannot run on the cached data: build it anew
            log(f"  {backend}: migrating the cached data set failed ({error!r}); regenerating")
            states[backend] = "missing"
    todo = [b for b, s in states.items() if s == "missing"]
    if not todo:
        return
    plan = Plan.for_size(applications)
    log(f"generating {applications:,} applications over {plan.insurers:,} insurers (largest {plan.largest:,}) "
        f"into {', '.join(todo)}")
    started = time.monotonic()
    apps, writers, contexts = {}, [], []
    for backend in todo:
        app = build_app(_fresh_target(backend, applications))
        apps[backend] = app
        contexts.append(_schema_and_demo(app))
        with app.app_context():
            from dost.extensions import db

            writer = (SqliteWriter if backend == "sqlite" else PostgresWriter)(db.engine)
        writer.prepare()
        writers.append(writer)
    if any(c.next_ids != contexts[0].next_ids or c.demo_insurer_id != contexts[0].demo_insurer_id
           for c in contexts):
        raise RuntimeError("the demo data differs between backends; generate them separately")
    rows = 0
    for batch in generate_rows(plan, contexts[0]):
        for writer in writers:
            for table, (columns, values) in batch.items():
                writer.write(table, columns, values)
            writer.commit()
        rows += len(batch.get("application", ((), []))[1])
        if rows and rows % (CHUNK * 10) == 0:
            log(f"  {rows:,} applications in {time.monotonic() - started:.0f} s")
    for writer in writers:
        writer.finish(log)
    for backend in todo:
        with apps[backend].app_context():
            from dost.extensions import db

            db.engine.dispose()
        _real_notices(apps[backend], log)
        with apps[backend].app_context():
            db.engine.dispose()
        _complete(backend, applications)
    log(f"generated in {time.monotonic() - started:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=int(os.environ.get("BENCH_APPLICATIONS", FULL_SIZE)))
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    ensure(backends, args.applications, regenerate=args.regenerate)


if __name__ == "__main__":
    main()
