"""Mixed traffic against `gunicorn -w 2` on PostgreSQL, optionally with the database stopped in the middle.

Virtual users (threads, one e-İmza session each) pick weighted tasks with a short think time: REYESTR page and
its search fragment, the wizard (QEYDİYYAT page, AXTAR lookup posts with CSRF, and — paced over the run — full
confirmations with the card PIN), the staff queue (agent.bak1, signed in once with a TOTP code) and verification
pages of real notices. Per endpoint: count, errors, p50/p95/p99.

With --outage the bench's own cluster (`15 loadtest`, port 5433) is stopped after 40 % of the run, kept down for
--down seconds and started again, while the load goes on. It then checks: during the outage every failure is the
503 database page (no 500, no transport error or timeout); every confirmation the client saw succeed is in the
database with its number and notice; no half-written application or orphan notice exists; the app answers again
without a restart.

`python -m bench load --duration 60 --outage`
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace

from bench.common import BENCH_SECRET_KEY, NO_LIMIT, RESULTS, load_average, now_iso, percentile, write_json
from bench.load import cluster, markdown
from bench.load.http import TIMEOUT, Client, Gunicorn, Response, staff_code
from dost.services import public_numbers

DATABASE = "dost_load"
DEMO_CARD = ("1000000001", "1111")
DEMO_VOEN = "9802091761"
STAFF = ("agent.bak1", "Agent-Baki1-2026")  # README "Demo sign-in"
DB_DOWN_TEXT = "Verilənlər bazası müvəqqəti olaraq cavab vermir"
# The registration number as the detail page shows it (random since issue 13: DSMF-2026-XXXX-XXXX).
REGISTRATION = re.compile(rf"№ ({public_numbers.NUMBER_RE.pattern})")

# (task, weight): roughly what an office's day looks like, reads far above writes.
TASKS = (
    ("registry", 16), ("registry_search", 14), ("wizard_new", 6), ("wizard_lookup", 14),
    ("staff_queue", 10), ("staff_queue_filter", 6), ("verify", 22),
)
ENDPOINTS = {
    "sign_in": "GET /sign-in/callback after the card sign-in at the demo identity provider (once per user)",
    "registry": "GET /ssh/ (REYESTR)",
    "registry_search": "GET /ssh/?search=1&fin=… (htmx fragment)",
    "wizard_new": "GET /ssh/new (QEYDİYYAT)",
    "wizard_lookup": "POST /ssh/wizard action=search (AXTAR)",
    "confirm": "POST /ssh/wizard action=sign (PIN confirm)",
    "detail": "GET /ssh/<id> (after confirm)",
    "staff_queue": "GET /staff/ (Növbə)",
    "staff_queue_filter": "GET /staff/?status=…&sort=… (htmx fragment)",
    "verify": "GET /v/<token> (verification)",
    "readyz": "GET /readyz (probe, 4/s)",
}


@dataclass
class Sample:
    task: str
    started: float
    ended: float
    status: int
    ms: float
    ok: bool
    db_down_page: bool
    error: str = ""


@dataclass
class Shared:
    base: str
    persons: list[tuple[str, str, str]]
    free: list[tuple[str, str, str]]
    verify_paths: list[str]
    confirm_times: list[float]
    staff_jar: object
    t0: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: list[Sample] = field(default_factory=list)
    confirmed: list[dict] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    def record(self, task: str, response: Response, expected: tuple[int, ...] = (200,)) -> Response:
        ended = time.monotonic()
        sample = Sample(task, ended - response.elapsed_ms / 1000 - self.t0, ended - self.t0, response.status,
                        response.elapsed_ms, response.status in expected,
                        response.status == 503 and DB_DOWN_TEXT in response.body, response.error)
        with self.lock:
            self.samples.append(sample)
        return response

    def take_confirm(self) -> tuple[str, str, str] | None:
        """A still unused person when the next paced confirmation is due."""
        with self.lock:
            if self.confirm_times and self.free and time.monotonic() - self.t0 >= self.confirm_times[0]:
                self.confirm_times.pop(0)
                return self.free.pop()
        return None


def _data(url: str) -> tuple[list, list, list, int]:
    """Employees of the demo insurer (for AXTAR), those free to apply (for confirms), notice tokens, max id."""
    from dost.services import signing

    name = url.rsplit("/", 1)[1]
    with cluster.connect(name) as conn:
        employed = conn.execute(
            "SELECT p.document_type, p.fin, c.ssn, EXISTS (SELECT 1 FROM application a "
            "  WHERE a.open_key IN ('person:' || p.id, 'draft:' || i.id || ':' || p.id)) "
            "FROM person p JOIN employment_contract ec ON ec.person_id = p.id JOIN insurer i ON i.id = ec.insurer_id "
            "JOIN certificate c ON c.person_id = p.id AND c.status = 'active' "
            "WHERE i.voen = %s AND ec.start_date <= current_date "
            "AND (ec.end_date IS NULL OR ec.end_date >= current_date) ORDER BY p.id", (DEMO_VOEN,)).fetchall()
        notices = conn.execute(
            "SELECT n.number, n.key_id, n.signature FROM notice n JOIN application a ON a.id = n.application_id "
            "WHERE a.status <> 'refused' AND n.superseded_by_id IS NULL ORDER BY n.id DESC LIMIT 300").fetchall()
        max_id = conn.execute("SELECT coalesce(max(id), 0) FROM application").fetchone()[0]
    persons = [(d, f, s) for d, f, s, _ in employed]
    free = [(d, f, s) for d, f, s, busy in employed if not busy]
    paths = ["/v/" + signing.verification_token(SimpleNamespace(number=n, key_id=k, signature=s))
             for n, k, s in notices]
    return persons, free, paths, max_id


def _user(shared: Shared, index: int) -> None:
    rng = random.Random(index)  # noqa: S311 - a load mix, not security
    client = Client(shared.base)
    while not shared.stop.is_set():
        if shared.record("sign_in", client.sign_in_card(*DEMO_CARD), (302,)).status == 302:
            break
    staff = Client(shared.base, jar=shared.staff_jar)
    names, weights = zip(*TASKS, strict=True)
    while not shared.stop.is_set():
        person = shared.take_confirm()
        if person is not None:
            _confirm(shared, client, person)
        else:
            task = rng.choices(names, weights)[0]
            _task(shared, client, staff, task, rng)
        time.sleep(rng.uniform(0.05, 0.25))


def _task(shared: Shared, client: Client, staff: Client, task: str, rng: random.Random) -> None:
    htmx = {"HX-Request": "true"}
    if task == "registry":
        shared.record(task, client.get("/ssh/"))
    elif task == "registry_search":
        fin = rng.choice(shared.persons)[1]
        shared.record(task, client.get(f"/ssh/?search=1&fin={fin}", headers=htmx))
    elif task == "wizard_new":
        response = shared.record(task, client.get("/ssh/new"))
        if response.status == 200:
            client.take_csrf(response)
    elif task == "wizard_lookup":
        document_type, fin, ssn = rng.choice(shared.persons)
        shared.record(task, client.post("/ssh/wizard", {
            "step": "identity", "action": "search", "submission_key": secrets.token_urlsafe(32),
            "document_type": document_type, "fin": fin, "ssn": ssn}, headers=htmx))
    elif task == "staff_queue":
        shared.record(task, staff.get("/staff/"))
    elif task == "staff_queue_filter":
        status = rng.choice(("open", "submitted", "verified"))
        shared.record(task, staff.get(f"/staff/?status={status}&sort=deadline", headers=htmx))
    elif task == "verify":
        shared.record(task, client.get(rng.choice(shared.verify_paths)))


def _confirm(shared: Shared, client: Client, person: tuple[str, str, str]) -> None:
    """The whole signing step as a browser without JS posts it: Təsdiqlə with the card PIN."""
    document_type, fin, ssn = person
    response = shared.record("confirm", client.post("/ssh/wizard", {
        "step": "sign", "action": "sign", "submission_key": secrets.token_urlsafe(32),
        "document_type": document_type, "fin": fin, "ssn": ssn, "reason": "lost", "pin": DEMO_CARD[1]}), (302,))
    if response.status != 302:
        # Not seen as confirmed: the database may or may not hold it; the integrity checks still cover it.
        with shared.lock:
            shared.ambiguous.append(fin)
        return
    location = response.headers.get("Location", "")
    match = re.search(r"/ssh/(\d+)", location)
    seen = {"fin": fin, "application_id": int(match.group(1)) if match else None, "registration_number": None}
    detail = shared.record("detail", client.get(location.replace(shared.base, "")))
    number = REGISTRATION.search(detail.body) if detail.status == 200 else None
    seen["registration_number"] = number.group(1) if number else None
    with shared.lock:
        shared.confirmed.append(seen)


def _probe(shared: Shared, probes: list[tuple[float, int, float]]) -> None:
    client = Client(shared.base)
    while not shared.stop.is_set():
        response = client.get("/readyz")
        probes.append((time.monotonic() - shared.t0, response.status, response.elapsed_ms))
        time.sleep(0.25)


def _outage(shared: Shared, at: float, down: float, events: dict) -> None:
    while time.monotonic() - shared.t0 < at:
        if shared.stop.wait(0.1):
            return
    events["stop_begin"] = time.monotonic() - shared.t0
    cluster.stop()
    events["stop_end"] = time.monotonic() - shared.t0
    time.sleep(down)
    events["start_begin"] = time.monotonic() - shared.t0
    cluster.start()
    events["start_end"] = time.monotonic() - shared.t0


INTEGRITY_SQL = {
    "confirmed_without_number": "SELECT count(*) FROM application WHERE status <> 'draft' "
                                "AND (registration_number IS NULL OR submitted_at IS NULL OR deadline IS NULL)",
    "confirmed_without_notice": "SELECT count(*) FROM application a WHERE status <> 'draft' "
                                "AND NOT EXISTS (SELECT 1 FROM notice n WHERE n.application_id = a.id)",
    "draft_with_number_or_notice": "SELECT count(*) FROM application a WHERE status = 'draft' AND "
                                   "(registration_number IS NOT NULL OR "
                                   "EXISTS (SELECT 1 FROM notice n WHERE n.application_id = a.id))",
    "notice_without_application": "SELECT count(*) FROM notice n LEFT JOIN application a ON a.id = n.application_id "
                                  "WHERE a.id IS NULL",
    "notice_number_mismatch": "SELECT count(*) FROM notice n JOIN application a ON a.id = n.application_id "
                              "WHERE n.number <> a.registration_number",
    # Rows written during the run (the generator bulk-loads no history): each confirmation left its status row.
    "new_confirmed_without_history": "SELECT count(*) FROM application a WHERE a.id > %(max_id)s "
                                     "AND a.status <> 'draft' AND NOT EXISTS (SELECT 1 FROM application_status_change "
                                     "s WHERE s.application_id = a.id AND s.status = 'submitted')",
    "new_confirmed_without_audit": "SELECT count(*) FROM application a WHERE a.id > %(max_id)s "
                                   "AND a.status <> 'draft' AND NOT EXISTS (SELECT 1 FROM audit_event e "
                                   "WHERE e.object_type = 'application' AND e.object_id = a.id)",
}


def integrity(max_id: int, confirmed: list[dict]) -> dict:
    """SQL checks for half-written data, and every confirmation the client saw, by id and number."""
    result = {}
    with cluster.connect(DATABASE) as conn:
        for name, sql in INTEGRITY_SQL.items():
            try:
                result[name] = conn.execute(sql, {"max_id": max_id}).fetchone()[0]
            except Exception as error:  # a column named differently: report rather than fail the run
                conn.rollback()
                result[name] = f"n/a ({error.__class__.__name__})"
        ids = [c["application_id"] for c in confirmed if c["application_id"]]
        rows = {row[0]: row[1:] for row in conn.execute(
            "SELECT a.id, a.status, a.registration_number, n.number FROM application a "
            "LEFT JOIN notice n ON n.application_id = a.id WHERE a.id = ANY(%s)", (ids,)).fetchall()}
        result["new_applications"] = conn.execute(
            "SELECT count(*) FROM application WHERE id > %s AND status <> 'draft'", (max_id,)).fetchone()[0]
    lost = []
    for seen in confirmed:
        row = rows.get(seen["application_id"])
        if (row is None or row[0] == "draft" or row[1] is None or row[2] != row[1]
                or (seen["registration_number"] and seen["registration_number"] != row[1])):
            lost.append(seen)
    result["client_confirmed"] = len(confirmed)
    result["client_confirmed_with_number"] = sum(1 for c in confirmed if c["registration_number"])
    result["client_confirmed_missing_in_db"] = len(lost)
    result["missing"] = lost
    return result


def classify(samples: list[Sample], window: tuple[float, float] | None) -> dict:
    """Per endpoint figures; inside the outage window the 503 database page is expected, anything else failing
    (a 500, a transport error, a timeout, another status) is an error."""
    by_task: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_task[sample.task].append(sample)
    endpoints = {}
    for task, items in by_task.items():
        errors, expected_503, statuses, details = 0, 0, Counter(), Counter()
        for s in items:
            statuses[str(s.status)] += 1
            in_window = window is not None and s.ended >= window[0] and s.started <= window[1]
            if s.ok:
                continue
            if in_window and s.db_down_page:
                expected_503 += 1
                continue
            errors += 1
            details[s.error.split("(")[0] if s.error else f"HTTP {s.status}"] += 1
        ok_ms = sorted(s.ms for s in items if s.ok)
        endpoints[task] = {
            "endpoint": ENDPOINTS.get(task, task), "count": len(items), "errors": errors,
            "expected_503": expected_503, "statuses": dict(statuses), "error_kinds": dict(details),
            "p50_ms": round(percentile(ok_ms, 0.5), 1) if ok_ms else None,
            "p95_ms": round(percentile(ok_ms, 0.95), 1) if ok_ms else None,
            "p99_ms": round(percentile(ok_ms, 0.99), 1) if ok_ms else None,
            "max_ms": round(max(s.ms for s in items), 1),
        }
    return endpoints


def run(duration: int, users: int, outage: bool, down: float, confirms: int, log=print) -> dict:
    url = cluster.prepare(DATABASE, log)
    persons, free, paths, max_id = _data(url)
    rng = random.Random(8)  # noqa: S311
    rng.shuffle(free)
    confirms = min(confirms, len(free))
    log(f"{len(persons)} employees for AXTAR, {len(free)} free to confirm (using {confirms}), {len(paths)} notices")
    server = Gunicorn({"DOST_DATABASE_URL": url, "DOST_SECRET_KEY": BENCH_SECRET_KEY,
                       "DOST_VERIFY_RATE_LIMIT": NO_LIMIT, "DOST_SIGN_IN_RATE_LIMIT": NO_LIMIT},
                      RESULTS / ("gunicorn-load-outage.log" if outage else "gunicorn-load.log"))
    server.start()
    try:
        staff = Client(server.base)
        response = staff.sign_in_staff(STAFF[0], STAFF[1], staff_code(STAFF[0]))
        if response.status != 302:
            raise RuntimeError(f"staff sign-in failed: HTTP {response.status}")
        # Confirmations spread evenly over the run, so some land before, during and after an outage.
        times = [duration * (0.05 + 0.85 * i / max(1, confirms - 1)) for i in range(confirms)]
        # AXTAR for people without an open application (one open application per person: issue 13); the first
        # few of those are confirmed during the run.
        shared = Shared(server.base, free[confirms:] or persons, free[:confirms], paths, times, staff.jar)
        probes: list[tuple[float, int, float]] = []
        events: dict = {}
        shared.t0 = time.monotonic()
        threads = [threading.Thread(target=_user, args=(shared, i), daemon=True) for i in range(users)]
        threads.append(threading.Thread(target=_probe, args=(shared, probes), daemon=True))
        if outage:
            threads.append(threading.Thread(target=_outage, args=(shared, duration * 0.4, down, events),
                                            daemon=True))
        log(f"load: {users} virtual users for {duration} s against {server.base}"
            + (f"; database stopped at {duration * 0.4:.0f} s for {down:.0f} s" if outage else ""))
        for thread in threads:
            thread.start()
        time.sleep(duration)
        shared.stop.set()
        for thread in threads:
            thread.join(timeout=TIMEOUT + 130)
        elapsed = time.monotonic() - shared.t0
    finally:
        server.stop()
        cluster.start()
    # /readyz answers 503 with its own short text while the database is down: expected inside the window.
    samples = shared.samples + [Sample("readyz", t - ms / 1000, t, status, ms, status == 200, status == 503)
                                for t, status, ms in probes]
    window = None
    outage_doc = None
    if outage:
        if "start_end" not in events:
            raise RuntimeError(f"the outage did not complete within the run: {events}")
        recovered = next((t for t, status, _ in probes if t >= events["start_end"] and status == 200), None)
        # After start, allow the pool to notice (pre-ping) within a couple of seconds; later failures are errors.
        window = (events["stop_begin"], (recovered if recovered is not None else elapsed) + 2.0)
        in_window = [s for s in shared.samples if s.ended >= window[0] and s.started <= window[1]]
        outage_doc = {
            **{key: round(value, 2) for key, value in events.items()},
            "down_s": round(events["start_end"] - events["stop_begin"], 1),
            "recovered_at": round(recovered, 2) if recovered is not None else None,
            "recovery_after_start_s": round(recovered - events["start_end"], 2) if recovered is not None else None,
            "window": [round(window[0], 2), round(window[1], 2)],
            "requests_in_window": len(in_window),
            "db_down_503": sum(1 for s in in_window if s.db_down_page),
            "http_500": sum(1 for s in shared.samples if s.status == 500),
            "transport_errors": sum(1 for s in shared.samples if s.status == 0),
            "max_ms_in_window": round(max((s.ms for s in in_window), default=0.0), 1),
            "readyz_503_while_down": sum(1 for t, status, _ in probes
                                         if window[0] <= t <= window[1] and status == 503),
            "confirms_ambiguous": len(shared.ambiguous),
        }
    endpoints = classify(samples, window)
    checks = integrity(max_id, shared.confirmed)
    doc = {
        "kind": "load-outage" if outage else "load", "finished_at": now_iso(), "duration_s": round(elapsed, 1),
        "users": users, "gunicorn": "gunicorn -w 2 app:app", "database": f"{cluster.SERVER}/{DATABASE} "
        f"(copy of {cluster.TEMPLATE})", "load_average": load_average(), "endpoints": endpoints,
        "total_requests": len(shared.samples), "errors": sum(e["errors"] for e in endpoints.values()),
        "integrity": checks, "outage": outage_doc,
    }
    doc["passed"] = _passed(doc)
    return doc


def _passed(doc: dict) -> bool:
    checks = doc["integrity"]
    clean = all(value == 0 for key, value in checks.items()
                if key not in ("client_confirmed", "client_confirmed_with_number", "missing", "new_applications"))
    outage = doc["outage"]
    recovered = outage is None or (outage["recovery_after_start_s"] is not None
                                   and outage["recovery_after_start_s"] <= 10 and outage["http_500"] == 0)
    return doc["errors"] == 0 and clean and recovered


def print_report(doc: dict) -> None:
    print(f"\n{doc['kind']}: {doc['total_requests']} requests in {doc['duration_s']} s, "
          f"{doc['users']} users, errors {doc['errors']}")
    print(f"{'endpoint':58} {'count':>6} {'err':>4} {'503db':>6} {'p50':>7} {'p95':>7} {'p99':>7}")
    for e in doc["endpoints"].values():
        print(f"{e['endpoint']:58} {e['count']:6} {e['errors']:4} {e['expected_503']:6} "
              f"{_f(e['p50_ms'])} {_f(e['p95_ms'])} {_f(e['p99_ms'])}  {e['error_kinds'] or ''}")
    print("integrity:", {k: v for k, v in doc["integrity"].items() if k != "missing"})
    if doc["outage"]:
        print("outage:", doc["outage"])
    print("PASS" if doc["passed"] else "FAIL")


def _f(value) -> str:
    return f"{value:7.1f}" if value is not None else f"{'—':>7}"


def markdown_section(doc: dict, command: str) -> str:
    title = "Load with a database outage" if doc["outage"] else "Mixed load"
    lines = [f"## {title} (issue 8) — {'PASS' if doc['passed'] else 'FAIL'}", "",
             f"`{command}` — {doc['finished_at']}: {doc['users']} virtual users (threads, think time 50–250 ms) for "
             f"{doc['duration_s']:.0f} s against `{doc['gunicorn']}` on PostgreSQL 15 "
             f"(`{doc['database']}`, own cluster on port 5433); {doc['total_requests']} requests, "
             f"**{doc['errors']} errors**" + _error_kinds(doc) + ". Latencies in ms over the successful responses; the "
             f"machine was shared (load average {doc['load_average'][0]:.1f} on {os.cpu_count()} CPUs at the end), "
             "so they show contention more than the app's own cost.", "",
             "| Endpoint | Count | Errors | 503 (DB down) | p50 | p95 | p99 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for e in doc["endpoints"].values():
        lines.append(f"| {e['endpoint']} | {e['count']} | {e['errors']} | {e['expected_503']} | "
                     f"{_md(e['p50_ms'])} | {_md(e['p95_ms'])} | {_md(e['p99_ms'])} |")
    checks = doc["integrity"]
    lines += ["", f"Confirmations the client saw succeed: {checks['client_confirmed']}, all found in the database "
              f"with their number and notice: **{checks['client_confirmed_missing_in_db'] == 0}**. Half-written "
              "data (SQL checks in `bench/load/run.py`): " + ", ".join(
                  f"{k} = {v}" for k, v in checks.items() if k not in (
                      "client_confirmed", "client_confirmed_with_number", "client_confirmed_missing_in_db",
                      "missing", "new_applications")) + "."]
    outage = doc["outage"]
    if outage:
        lines += ["", f"Outage: `pg_ctlcluster 15 loadtest stop` at {outage['stop_begin']:.1f} s, started again "
                  f"at {outage['start_end']:.1f} s (down {outage['down_s']} s). In the window "
                  f"{outage['window'][0]:.1f}–{outage['window'][1]:.1f} s: {outage['requests_in_window']} "
                  f"requests, {outage['db_down_503']} answered with the 503 page «{DB_DOWN_TEXT}…», "
                  f"{outage['http_500']} HTTP 500, {outage['transport_errors']} transport errors/timeouts, slowest "
                  f"{outage['max_ms_in_window']} ms. `/readyz` answered 200 again "
                  f"{outage['recovery_after_start_s']} s after the cluster was up, without restarting gunicorn "
                  "(a dead pooled connection is dropped and the next one opened; idle ones are pinged first)."]
    return "\n".join(lines)


def _error_kinds(doc: dict) -> str:
    kinds: Counter = Counter()
    for e in doc["endpoints"].values():
        kinds.update(e["error_kinds"])
    return f" ({', '.join(f'{kind} × {n}' for kind, n in kinds.most_common())})" if kinds else ""


def _md(value) -> str:
    return f"{value:.1f}" if value is not None else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=300, help="seconds of load (default 300)")
    parser.add_argument("--users", type=int, default=6, help="virtual users (threads; default 6)")
    parser.add_argument("--outage", action="store_true", help="stop the database in the middle, then start it")
    parser.add_argument("--down", type=float, default=15.0, help="seconds the database stays down (default 15)")
    parser.add_argument("--confirms", type=int, default=None,
                        help="full PIN confirmations spread over the run (default: one per 15 s, 4 to 20)")
    parser.add_argument("--no-markdown", dest="markdown", action="store_false", help="do not write BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.outage and args.duration < args.down * 2 + 10:
        parser.error("--duration must leave room for the outage (at least twice --down plus 10 s)")
    if args.confirms is None:
        args.confirms = min(20, max(4, args.duration // 15))
    command = "python -m bench load " + " ".join(argv or [])
    doc = run(args.duration, args.users, args.outage, args.down, args.confirms,
              log=lambda text: print(text, flush=True))
    try:
        print_report(doc)
        path = write_json(f"{doc['kind']}.json", doc)
        print(f"wrote {path.relative_to(RESULTS.parent.parent)}")
        if args.markdown:
            markdown.write_section(doc["kind"], markdown_section(doc, command.strip()))
            print("wrote BENCHMARKS.md section", doc["kind"])
    finally:
        cluster.stop()  # leave the bench cluster stopped
    return 0 if doc["passed"] else 1
