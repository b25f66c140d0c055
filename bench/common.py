"""Shared pieces of the benchmarks: paths, database URLs, the app, sign-in, statistics, machine facts."""

from __future__ import annotations

import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VENV_BIN = ROOT / ".venv" / "bin"

FULL_SIZE = 1_000_000
# Generated databases carry this; bump it when the generator changes what it writes.
GENERATOR_VERSION = 1
# The same key for the test-client app, the generator and gunicorn, so sessions and FİN hashes agree.
BENCH_SECRET_KEY = "dost-bench-secret-key-not-for-production"  # noqa: S105 - a throwaway benchmark database
PG_SERVER = os.environ.get("DOST_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
# High enough that no benchmark request is ever limited (the limiter still runs on every request).
NO_LIMIT = "100000000 per minute"

# Demo sign-in (dost/demo.py): the seal holder of "MƏKTƏBİ QURUP", the generator's largest insurer.
DEMO_SEAL_CARD = ("1000000001", "1111")
DEMO_VOEN = "9802091761"
# Added by the generator: the seal holder of a typical (median-sized) insurer.
TYPICAL_SEAL_CARD = ("8800000001", "8888")

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def database_name(applications: int) -> str:
    """`bench` for the full data set, `bench_<n>` for other sizes (so a quick run never replaces the full one)."""
    return "bench" if applications == FULL_SIZE else f"bench_{applications}"


def sqlite_path(applications: int) -> Path:
    return RESULTS / f"bench-v{GENERATOR_VERSION}-{applications}.sqlite3"


def database_url(backend: str, applications: int) -> str:
    if backend == "sqlite":
        return f"sqlite:///{sqlite_path(applications)}"
    return f"{PG_SERVER}/{database_name(applications)}"


def build_app(url: str, **overrides):
    """The real app on a benchmark database, limits raised; nothing else differs from production settings but the
    national login, which is the demo identity provider (`python -m bench signin` measures signing in)."""
    from dost import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": BENCH_SECRET_KEY,
        "SIGN_IN_RATE_LIMIT": NO_LIMIT,
        "VERIFY_RATE_LIMIT": NO_LIMIT,
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "DEMO_PROVIDERS": True,
        "DEMO_IDP_ISSUER": "http://127.0.0.1/demo-idp",
        "DEMO_IDP_DIRECTORY": str(RESULTS / "demo-idp"),
        **overrides,
    })


def sign_in(client, card: tuple[str, str]) -> None:
    """A session of the card's seal holder for its insurer, as the national login's callback opens one.

    The benchmarks of the pages behind sign-in start from a signed-in session; each request still rebuilds the
    principal from the database (dost.auth.load_principal), as in production. Signing in itself, provider
    included, is `python -m bench signin`."""
    from sqlalchemy import select

    from dost.extensions import db
    from dost.models import Credential

    with client.application.app_context():
        credential = db.session.scalar(select(Credential).where(Credential.card_number == card[0]))
        if credential is None or credential.seal_insurer_id is None:
            raise RuntimeError(f"no seal holder with card {card[0]} in the benchmark database")
        principal = f"e:{credential.id}:{credential.seal_insurer_id}"
        db.session.remove()
    with client.session_transaction() as session:
        session.update({"_user_id": principal, "_fresh": True, "sid": os.urandom(12).hex(),
                        "signed_in_at": datetime.now(UTC).timestamp()})
    if client.get("/insurer").status_code != 200:
        raise RuntimeError(f"the session of card {card[0]} is not signed in")


@dataclass
class Stats:
    count: int
    median_ms: float
    p95_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float

    def as_dict(self) -> dict:
        return {key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items()}


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarize(samples_ns: list[int]) -> Stats:
    values = sorted(value / 1e6 for value in samples_ns)
    return Stats(count=len(values), median_ms=statistics.median(values), p95_ms=percentile(values, 0.95),
                 p99_ms=percentile(values, 0.99), min_ms=values[0], max_ms=values[-1])


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict:
    """What the figures were measured on."""
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(),
        "wrk": wrk_version(),
        "gunicorn": package_version("gunicorn"),
        "sqlalchemy": package_version("sqlalchemy"),
        "flask": package_version("flask"),
    }


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=3) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # no server: the PostgreSQL parts will say so themselves
        return ""


def wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(r"wrk\s+(\S+)", out.stdout + out.stderr)
    return match.group(1) if match else ""


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    return path


def read_json(name: str) -> dict | None:
    path = RESULTS / name
    if not path.exists():
        return None
    return json.loads(path.read_text())
