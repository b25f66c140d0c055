"""The private PostgreSQL cluster of the load bench (`15 loadtest`, port 5433) and its databases."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from bench.common import ROOT

VERSION, NAME, PORT = "15", "loadtest", 5433
SERVER = f"postgresql://postgres@127.0.0.1:{PORT}"
# Generated once by bench/generate.py into this cluster and cloned for every run, so runs start alike.
TEMPLATE_SIZE = 5000
TEMPLATE = f"bench_{TEMPLATE_SIZE}"


def _ctl(action: str) -> None:
    # Only this cluster, never the shared one on 5432; skip systemd so it works in containers too.
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", VERSION, NAME, action], check=True,
                   capture_output=True, text=True, timeout=120)


def exists() -> bool:
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
    return any(line.split()[:2] == [VERSION, NAME] for line in out.splitlines())


def online() -> bool:
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
    return any(line.split()[:2] == [VERSION, NAME] and line.split()[3] == "online" for line in out.splitlines())


def stop() -> None:
    if exists() and online():
        _ctl("stop")


def start() -> None:
    if not online():
        _ctl("start")


def ensure(log: Callable[[str], None] = print) -> None:
    """Create the cluster if missing (trust auth on loopback: a throwaway bench cluster) and start it."""
    if not exists():
        log(f"creating PostgreSQL cluster {VERSION}/{NAME} on port {PORT}")
        subprocess.run(["pg_createcluster", VERSION, NAME, "-p", str(PORT), "--", "--auth=trust"], check=True,
                       capture_output=True, text=True, timeout=300)
    start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with connect("postgres"):
                return
        except Exception:  # still starting
            time.sleep(0.3)
    raise RuntimeError(f"cluster {VERSION}/{NAME} does not answer on port {PORT}")


def connect(database: str, **kwargs):
    import psycopg

    return psycopg.connect(f"{SERVER}/{database}", connect_timeout=5, **kwargs)


def ensure_template(log: Callable[[str], None] = print) -> None:
    """The generated data set (demo data + 5,000 applications) through the existing generator, pointed here."""
    env = {**os.environ, "DOST_BENCH_PG": SERVER}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "bench.generate", "--applications", str(TEMPLATE_SIZE),
                    "--backend", "postgresql"], cwd=ROOT, env=env, check=True, capture_output=True, text=True,
                   timeout=600)
    log(f"data set {TEMPLATE} ready on port {PORT} ({time.monotonic() - started:.1f} s)")


def fresh_database(name: str) -> str:
    """A new copy of the template (a file copy: about a second); returns its URL."""
    with connect("postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    return f"{SERVER}/{name}"


def prepare(name: str, log: Callable[[str], None] = print) -> str:
    """Cluster up, template generated, a fresh database `name` cloned from it; returns its URL."""
    ensure(log)
    ensure_template(log)
    url = fresh_database(name)
    log(f"fresh database {name} cloned from {TEMPLATE}")
    return url
