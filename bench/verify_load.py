"""Throughput of the public verification page under gunicorn, against a hello-world baseline on the same server.

Starts `gunicorn -w 2 app:app` on a free loopback port with the generated PostgreSQL database (rate limits
raised through DOST_VERIFY_RATE_LIMIT / DOST_SIGN_IN_RATE_LIMIT, the limiter itself still on), then runs wrk from
another process: 32 connections for a fixed time after a warm-up, first on `/healthz`, then on the `/v/<token>`
pages of many different valid notices (bench/wrk_paths.lua cycles through them). Targets of issue 5: the
verification page reaches ≥ 50 % of the baseline's requests/s, p99 ≤ 50 ms, no errors.

`python -m bench verify --applications 20000 --duration 20`
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from bench.common import (
    BENCH_SECRET_KEY,
    NO_LIMIT,
    RESULTS,
    ROOT,
    VENV_BIN,
    build_app,
    database_url,
    load_average,
    now_iso,
)

LUA = Path(__file__).with_name("wrk_paths.lua")
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


def parse_wrk(output: str) -> dict:
    """Requests/s, latency percentiles (ms), request count and errors from `wrk --latency` output."""
    result: dict = {"raw": output}
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["requests_per_s"] = float(match.group(1)) if match else 0.0
    match = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    result["requests"] = int(match.group(1)) if match else 0
    result["duration_s"] = _ms(match.group(2), match.group(3)) / 1000 if match else 0.0
    match = re.search(r"Latency\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)\s+([\d.]+)(us|ms|s|m)", output)
    if match:
        result["mean_ms"] = _ms(match.group(1), match.group(2))
        result["max_ms"] = _ms(match.group(5), match.group(6))
    for percent, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE):
        result[f"p{percent}_ms"] = _ms(value, unit)
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, match.groups()), strict=True)) \
        if match else {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx_3xx"] = int(match.group(1)) if match else 0
    result["socket_errors"] = socket_errors
    result["errors"] = result["non_2xx_3xx"] + sum(socket_errors.values())
    return result


def verification_paths(applications: int, count: int) -> tuple[Path, int]:
    """Paths /v/<number>.<kid>.<signature> of `count` different notices in force, spread over the whole table."""
    from sqlalchemy import func, select

    from dost.extensions import db
    from dost.models import Application, ApplicationStatus, Notice
    from dost.services import signing

    app = build_app(database_url("postgresql", applications))
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Notice)) or 1
        step = max(1, total // count)
        rows = db.session.execute(
            select(Notice.number, Notice.key_id, Notice.signature)
            .join(Application, Notice.application_id == Application.id)
            .where(Notice.id % step == 0, Application.status != ApplicationStatus.REFUSED,
                   Notice.superseded_by_id.is_(None))
            .order_by(Notice.id).limit(count)
        ).all()
        db.engine.dispose()
    paths = [signing.verification_url(SimpleNamespace(number=n, key_id=k, signature=s), "") for n, k, s in rows]
    target = RESULTS / f"verify-paths-{applications}.txt"
    RESULTS.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(paths) + "\n")
    return target, len(paths)


def _reset_check_log(applications: int) -> None:
    """Empty the verification log of the benchmark database, so every run starts alike and can be counted."""
    import psycopg

    with psycopg.connect(database_url("postgresql", applications), autocommit=True) as conn:
        conn.execute("TRUNCATE verification_check")


def _logged_checks(applications: int) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database_url("postgresql", applications)) as conn:
        return dict(conn.execute("SELECT result, count(*) FROM verification_check GROUP BY result").fetchall())


class Gunicorn:
    """gunicorn serving app:app on a free loopback port; stopped with SIGTERM (its graceful shutdown)."""

    def __init__(self, applications: int, workers: int, threads: int | None, wsgi_app: str = "app:app") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = [str(VENV_BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}"]
        if threads:
            self.command += ["--threads", str(threads)]
        self.command.append(wsgi_app)
        self.env = {
            **os.environ,
            "DOST_DATABASE_URL": database_url("postgresql", applications),
            "DOST_SECRET_KEY": BENCH_SECRET_KEY,
            "DOST_VERIFY_RATE_LIMIT": NO_LIMIT,
            "DOST_SIGN_IN_RATE_LIMIT": NO_LIMIT,
            # The national login is the demo identity provider, mounted at this server's address.
            "DOST_DEMO_PROVIDERS": "1",
            "DOST_DEMO_IDP_ISSUER": f"{self.base}/demo-idp",
            "DOST_DEMO_IDP_DATABASE_URL": f"sqlite:///{RESULTS / 'demo-idp' / 'demo-idp.sqlite3'}",
        }
        self.log_path = RESULTS / f"gunicorn-{applications}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        log = self.log_path.open("w")
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer on {self.base} within 60 s; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Only our own process group (gunicorn's master and the workers it forked).
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _wrk(url: str, duration: int, connections: int, threads: int, script: list[str] | None = None) -> dict:
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
               "--timeout", "5s"]
    if script:
        command += ["-s", script[0], url, "--", *script[1:]]
    else:
        command.append(url)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


def _check_pages(base: str, paths: list[str]) -> None:
    """A few verification pages must answer 'authentic and in force' before the load starts."""
    for path in paths:
        with urllib.request.urlopen(base + path, timeout=10) as response:  # noqa: S310 - loopback
            body = response.read().decode()
        if 'data-reason="valid"' not in body:
            raise RuntimeError(f"{path} is not reported as a valid notice")


# Components of a verification request, by the function that does the work (cumulative share of CPU under cProfile).
COMPONENTS = {
    "render_template": "page rendering (Jinja templates, gettext, WTForms widgets, CSRF token)",
    "check_token": "verification.check_token (one query in autocommit, Ed25519 check)",
    "_log": "check log: the row handed to the batch writer",
    "_check_request_limit": "Flask-Limiter",
    "log_request": "JSON access log line",
}


def in_process(applications: int, paths: list[str], runs: int = 200) -> dict:
    """The same two routes through the test client in this process: wall and CPU per request, where the CPU
    of a verification goes."""
    import cProfile
    import logging
    import pstats

    from bench.common import summarize

    app = build_app(database_url("postgresql", applications))
    stream = (RESULTS / "app-verify-in-process.log").open("w")
    for handler in logging.getLogger("dost").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    client = app.test_client()
    for path in paths[:20]:
        client.get(path)
        client.get("/healthz")
    samples: dict[str, tuple[list[int], list[int]]] = {"hello": ([], []), "verify": ([], [])}
    for index in range(runs):
        for name, path in (("hello", "/healthz"), ("verify", paths[(index + 20) % len(paths)])):
            cpu_started, started = time.thread_time_ns(), time.perf_counter_ns()
            client.get(path)
            samples[name][0].append(time.perf_counter_ns() - started)
            samples[name][1].append(time.thread_time_ns() - cpu_started)
    profile = cProfile.Profile()
    profile.enable()
    for path in paths[runs:runs + 100]:
        client.get(path)
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(entry[2] for entry in stats.values()) or 1.0
    shares = {label: round(100 * sum(entry[3] for key, entry in stats.items() if key[2] == function) / total, 1)
              for function, label in COMPONENTS.items()}
    with app.app_context():
        from dost.extensions import db

        db.engine.dispose()
    result = {}
    for name, (wall, cpu) in samples.items():
        result[name] = {"wall_median_ms": round(summarize(wall).median_ms, 3),
                        "cpu_median_ms": round(summarize(cpu).median_ms, 3)}
    result["cpu_ratio"] = round(result["verify"]["cpu_median_ms"] / result["hello"]["cpu_median_ms"], 1)
    result["verify_cpu_shares_percent"] = shares
    return result


def run(applications: int, duration: int = 20, warmup: int = 5, connections: int = 32, wrk_threads: int = 2,
        workers: int = 2, gunicorn_threads: int | None = None, notices: int = 5000,
        log: Callable[[str], None] = print) -> dict:
    """Both wrk runs on one gunicorn; returns the result document."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    load_before = load_average()
    paths_file, path_count = verification_paths(applications, notices)
    sample = paths_file.read_text().split()[:5]
    _reset_check_log(applications)
    runs = {}
    with Gunicorn(applications, workers, gunicorn_threads) as server:
        log(f"verify: gunicorn {' '.join(server.command[1:])} on {server.base}; wrk -t{wrk_threads} "
            f"-c{connections}, {warmup} s warm-up + {duration} s each")
        _check_pages(server.base, sample)
        for name, url, script in (
            ("hello", server.base + "/healthz", None),
            ("verify", server.base, [str(LUA), str(paths_file)]),
        ):
            _wrk(url, warmup, connections, wrk_threads, script)
            if name == "verify":
                _reset_check_log(applications)
            runs[name] = _wrk(url, duration, connections, wrk_threads, script)
            log(f"  {name}: {runs[name]['requests_per_s']:.0f} req/s, p99 {runs[name].get('p99_ms', 0):.1f} ms, "
                f"errors {runs[name]['errors']}")
        time.sleep(1)
    logged = _logged_checks(applications)
    floor = measure_floor(applications, paths_file, duration, warmup, connections, wrk_threads, workers,
                          gunicorn_threads, log) if not gunicorn_threads else None
    profile = in_process(applications, paths_file.read_text().split())
    hello, verify = runs["hello"], runs["verify"]
    ratio = verify["requests_per_s"] / hello["requests_per_s"] if hello["requests_per_s"] else 0.0
    verdicts = {
        "ratio": {"value": round(ratio, 3), "limit": TARGET_RATIO, "pass": ratio >= TARGET_RATIO},
        "p99": {"value_ms": verify.get("p99_ms"), "limit_ms": TARGET_P99_MS,
                "pass": verify.get("p99_ms", float("inf")) <= TARGET_P99_MS},
        "errors": {"value": hello["errors"] + verify["errors"], "pass": hello["errors"] + verify["errors"] == 0},
    }
    return {
        "part": "verify",
        "backend": "postgresql",
        "applications": applications,
        "date": now_iso(),
        "server": " ".join(["gunicorn", *server.command[1:]]),
        "load_generator": f"wrk -t{wrk_threads} -c{connections} -d{duration}s --latency (after {warmup} s warm-up)",
        "distinct_notices": path_count,
        "load_before": load_before,
        "load_after": load_average(),
        "hello": hello,
        "verify": verify,
        "ratio": round(ratio, 3),
        "checks_logged": logged,
        "verdicts": verdicts,
        "in_process": profile,
        "floor": floor,
    }


# Routes of bench/floor_app.py: part of a verification's work, without its page, rate limit and log.
FLOOR_ROUTES = (
    ("floor_check", "/floor/check/", "status query + Ed25519 check, bare reason code"),
    ("floor_query", "/floor/query/", "status query alone"),
)


def measure_floor(applications: int, paths_file: Path, duration: int, warmup: int, connections: int,
                  wrk_threads: int, workers: int, gunicorn_threads: int | None,
                  log: Callable[[str], None] = print) -> dict:
    """The same wrk runs on a second gunicorn serving bench.floor_app: /healthz again, then the floor routes on
    the same notices, so each floor ratio is against a baseline of its own run (not judged)."""
    runs: dict[str, dict] = {}
    with Gunicorn(applications, workers, gunicorn_threads, wsgi_app="bench.floor_app:app") as server:
        log(f"floor: gunicorn {' '.join(server.command[1:])}")
        runs["hello"] = _wrk(server.base + "/healthz", duration, connections, wrk_threads)
        for name, prefix, _label in FLOOR_ROUTES:
            floor_paths = RESULTS / f"verify-{name}-paths-{applications}.txt"
            floor_paths.write_text(paths_file.read_text().replace("/v/", prefix))
            script = [str(LUA), str(floor_paths)]
            _wrk(server.base, warmup, connections, wrk_threads, script)
            runs[name] = _wrk(server.base, duration, connections, wrk_threads, script)
            runs[name]["ratio"] = round(runs[name]["requests_per_s"] / (runs["hello"]["requests_per_s"] or 1), 3)
            log(f"  {name}: {runs[name]['requests_per_s']:.0f} req/s ({runs[name]['ratio'] * 100:.1f} % of "
                f"{runs['hello']['requests_per_s']:.0f}), p99 {runs[name].get('p99_ms', 0):.1f} ms, "
                f"errors {runs[name]['errors']}")
    return runs


def print_report(doc: dict, log: Callable[[str], None] = print) -> None:
    judged = ", not judged" if doc.get("informational") else ""
    log(f"\nverify [postgresql{judged}] — {doc['applications']:,} applications, {doc['date']}, "
        f"load {doc['load_before'][0]:.2f} → {doc['load_after'][0]:.2f}")
    log(f"  {doc['server']}; {doc['load_generator']}; {doc['distinct_notices']:,} different notices")
    log(f"  {'route':34} {'req/s':>9} {'p50':>8} {'p90':>8} {'p99':>8} {'errors':>7}")
    for name, label in (("hello", "hello-world baseline (/healthz)"), ("verify", "verification page /v/<token>")):
        run = doc[name]
        log(f"  {label:34} {run['requests_per_s']:>9.1f} {run.get('p50_ms', 0):>6.2f}ms {run.get('p90_ms', 0):>6.2f}ms "
            f"{run.get('p99_ms', 0):>6.2f}ms {run['errors']:>7}")
    v = doc["verdicts"]
    log(f"  ratio {doc['ratio'] * 100:.1f} % — {'PASS' if v['ratio']['pass'] else 'MISS'} (≥ 50 %); "
        f"p99 {v['p99']['value_ms']:.1f} ms — {'PASS' if v['p99']['pass'] else 'MISS'} (≤ 50 ms); "
        f"errors {v['errors']['value']} — {'PASS' if v['errors']['pass'] else 'MISS'} (0)")
    log(f"  verification checks logged by the app during the measured run: {doc['checks_logged']}")
    floor = doc.get("floor")
    if floor:
        log(f"  floor (bench/floor_app.py, its own /healthz {floor['hello']['requests_per_s']:.0f} req/s; not judged):")
        for name, _prefix, label in FLOOR_ROUTES:
            log(f"    {label:48} {floor[name]['requests_per_s']:>7.0f} req/s  {floor[name]['ratio'] * 100:5.1f} %  "
                f"p99 {floor[name].get('p99_ms', 0):.1f} ms")
    profile = doc.get("in_process")
    if profile:
        log(f"  in-process (test client, same DB): /healthz {profile['hello']['wall_median_ms']:.2f} ms wall, "
            f"{profile['hello']['cpu_median_ms']:.2f} ms CPU; /v/<token> {profile['verify']['wall_median_ms']:.2f} ms "
            f"wall, {profile['verify']['cpu_median_ms']:.2f} ms CPU ({profile['cpu_ratio']}× the CPU of /healthz)")
        for label, share in profile["verify_cpu_shares_percent"].items():
            log(f"    {share:5.1f} %  {label}")
