"""Server time of the employer's registry (REYESTR), its search fragment, the notice PDF and its re-download.

Every request goes through the real WSGI app (Flask test client, signed in with the demo e-İmza card), in
interleaved rounds together with the baseline `/healthz`, so machine noise hits every item alike; each figure
is also given as a ratio to the baseline. After timing, one request per item is replayed with SQL recording
(statement count, SQL time, repeated statements) and the plans of its slowest statements are kept
(EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL).

`python -m bench registry --backend sqlite --applications 20000`
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    DEMO_SEAL_CARD,
    DEMO_VOEN,
    RESULTS,
    TYPICAL_SEAL_CARD,
    build_app,
    database_url,
    load_average,
    now_iso,
    sign_in,
    summarize,
)

# Issue 3's targets: (statistic, limit in ms).
TARGETS = {
    "registry": ("p95_ms", 25.0),
    "search": ("p95_ms", 15.0),
    "notice_render": ("median_ms", 20.0),
    "redownload": ("median_ms", 2.0),
}
# Typed as an employer would, lower case with Azerbaijani letters; search_key folds them (ı/I, i/İ).
SURNAME_PREFIXES = ["ismay", "qələ", "əli", "hüsey", "məmməd", "quli", "şükür", "çələbi", "ağa", "ömər",
                    "ibrahim", "bağır", "süleyman", "qasım", "cəfər", "xəlil", "rüstəm", "abbas", "vəli", "həsən"]
HX = {"HX-Request": "true"}


@dataclass
class Item:
    name: str
    label: str
    group: str | None  # which target applies (None: informational)
    client_key: str
    paths: list[str]
    headers: dict[str, str] = field(default_factory=dict)
    expect: int = 200
    samples: list[int] = field(default_factory=list)
    cpu: list[int] = field(default_factory=list)

    def path(self, round_number: int) -> str:
        return self.paths[round_number % len(self.paths)]


class SqlRecorder:
    """Records every statement a request runs, with its parameters and duration."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, object, float]] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = conn.info.pop("bench_started", None)
        if started is not None:
            self.statements.append((statement, parameters, (time.perf_counter() - started) * 1000))

    def __enter__(self) -> SqlRecorder:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def _explain(engine, backend: str, statement: str, parameters) -> str:
    """The plan of one statement as the app ran it (read-only statements only)."""
    if not statement.lstrip().upper().startswith("SELECT"):
        return ""
    prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
        conn.rollback()
    if backend == "sqlite":
        return "\n".join(f"{row[0]}|{row[1]}| {row[3]}" for row in rows)
    return "\n".join(row[0] for row in rows)


def _short(statement: str, limit: int = 160) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _profile(app, client, item: Item, backend: str) -> dict:
    """Replay one request with SQL recording; explain its slowest statements."""
    from dost.extensions import db

    with app.app_context():
        engine = db.engine
    with SqlRecorder(engine) as recorder:
        started = time.perf_counter()
        client.get(item.path(0), headers=item.headers)
        total_ms = (time.perf_counter() - started) * 1000
    repeated = Counter(_short(s, 120) for s, _p, _ms in recorder.statements)
    slowest = sorted(recorder.statements, key=lambda s: s[2], reverse=True)[:3]
    return {
        "request_ms": round(total_ms, 3),
        "statements": len(recorder.statements),
        "sql_ms": round(sum(ms for _s, _p, ms in recorder.statements), 3),
        "repeated": {text: count for text, count in repeated.items() if count > 1},
        "slowest": [
            {"ms": round(ms, 3), "sql": _short(statement, 400), "plan": _explain(engine, backend, statement, params)}
            for statement, params, ms in slowest
        ],
    }


def _facts(app) -> dict:
    """The data set as the benchmark sees it: insurers, their sizes, FİNs to search, notices to download."""
    from sqlalchemy import func, select

    from bench.generate import PLACEHOLDER_SHA256
    from dost.extensions import db
    from dost.models import Application, Credential, Insurer, Notice

    with app.app_context():
        session = db.session
        largest = session.scalar(select(Insurer.id).where(Insurer.voen == DEMO_VOEN))
        typical = session.scalar(select(Credential.seal_insurer_id).where(
            Credential.card_number == TYPICAL_SEAL_CARD[0]))
        if typical is None:
            raise RuntimeError("no benchmark credential: generate the data with bench.generate")

        def count(insurer_id: int) -> int:
            return session.scalar(select(func.count()).select_from(Application)
                                  .where(Application.insurer_id == insurer_id)) or 0

        fins = list(session.scalars(select(Application.fin).where(Application.insurer_id == largest)
                                    .order_by(Application.id).limit(2000)))
        random.Random(7).shuffle(fins)
        downloads = list(session.scalars(
            select(Notice.application_id).join(Application, Notice.application_id == Application.id)
            .where(Application.insurer_id == largest, Notice.pdf_sha256 != PLACEHOLDER_SHA256)))
        return {
            "applications": session.scalar(select(func.count()).select_from(Application)),
            "insurers": session.scalar(select(func.count()).select_from(Insurer)),
            "largest_insurer_id": largest,
            "largest_rows": count(largest),
            "typical_insurer_id": typical,
            "typical_rows": count(typical),
            "fins": fins[:50],
            "download_ids": downloads,
        }


def _quiet_app_log(backend: str) -> Path:
    """Keep the app's JSON access log (it is part of the request cost) but write it to a file, not the terminal."""
    path = RESULTS / f"app-{backend}.log"
    RESULTS.mkdir(parents=True, exist_ok=True)
    stream = path.open("w")
    for handler in logging.getLogger("dost").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    return path


def _time_notice(app, application_id: int, runs: int) -> tuple[list[int], list[int], float, int]:
    """render_notice on a real application: (wall samples, CPU samples, first call in ms, PDF size)."""
    from dost.extensions import db
    from dost.models import Application
    from dost.services import notice_pdf, signing

    with app.app_context():
        application = db.session.get(Application, application_id)
        notice = application.notice
        _ = application.insurer, application.signed_by
        url = signing.verification_url(notice, app.config["PUBLIC_BASE_URL"])
        started = time.perf_counter_ns()
        pdf = notice_pdf.render_notice(application, notice, url)
        first_ms = (time.perf_counter_ns() - started) / 1e6
        samples, cpu = [], []
        for _ in range(runs):
            cpu_started = time.thread_time_ns()
            started = time.perf_counter_ns()
            notice_pdf.render_notice(application, notice, url)
            samples.append(time.perf_counter_ns() - started)
            cpu.append(time.thread_time_ns() - cpu_started)
    return samples, cpu, first_ms, len(pdf)


def notice_what_if(app, application_id: int, runs: int) -> dict[str, float]:
    """Median render time with the changes recommended for a notice miss, applied one after another in this
    process only (monkeypatched, then restored): a fixed QR mask, the QR's dark runs drawn as one path, binary
    (not ASCII85) PDF streams. The app code is unchanged."""
    import statistics

    import segno
    from reportlab import rl_config

    from dost.extensions import db
    from dost.models import Application
    from dost.services import notice_pdf, signing

    original_make, original_draw, original_a85 = segno.make, notice_pdf._draw_qr, rl_config.useA85
    with app.app_context():
        application = db.session.get(Application, application_id)
        notice = application.notice
        _ = application.insurer, application.signed_by
        url = signing.verification_url(notice, app.config["PUBLIC_BASE_URL"])
        mask = original_make(url, error="m", micro=False).mask

        def draw_runs(pdf, text, x, y, size):
            matrix = [list(row) for row in original_make(text, error="m", micro=False, mask=mask).matrix]
            module = size / (len(matrix) + 8)
            pdf.setFillColorRGB(0, 0, 0)
            path = pdf.beginPath()
            for row_index, row in enumerate(matrix):
                column = 0
                while column < len(row):
                    if not row[column]:
                        column += 1
                        continue
                    start = column
                    while column < len(row) and row[column]:
                        column += 1
                    path.rect(x + (start + 4) * module, y + size - (row_index + 5) * module,
                              (column - start) * module, module)
            pdf.drawPath(path, stroke=0, fill=1)

        def use(step: int) -> None:
            """Steps are cumulative: 0 as is, 1 fixed mask, 2 + runs as one path, 3 + binary streams."""
            notice_pdf.segno.make = (original_make if step < 1 else
                                     lambda text, **kwargs: original_make(text, **{"mask": mask, **kwargs}))
            notice_pdf._draw_qr = original_draw if step < 2 else draw_runs
            rl_config.useA85 = original_a85 if step < 3 else 0

        labels = ["as is", "+ fixed QR mask (segno.make(..., mask=N))",
                  "+ QR dark runs as one path (not one rect per module)",
                  "+ binary streams (reportlab rl_config.useA85 = 0)"]
        samples: list[list[float]] = [[] for _ in labels]
        try:
            # Interleaved, like the main measurement, so that load from other processes hits every step alike.
            for round_number in range(runs + 1):
                for step in range(len(labels)):
                    use(step)
                    started = time.perf_counter_ns()
                    notice_pdf.render_notice(application, notice, url)
                    if round_number:
                        samples[step].append((time.perf_counter_ns() - started) / 1e6)
        finally:
            use(0)
    return {label: round(statistics.median(values), 3) for label, values in zip(labels, samples, strict=True)}


QUERY_WHAT_IF = [
    # (label, SQL); :i insurer, :o offset, :lo/:hi surname key range, :ids the page's application ids.
    ("page 1, full rows by (insurer, id)",
     "SELECT application.* FROM application WHERE insurer_id = :i ORDER BY id DESC LIMIT 20"),
    ("last page, OFFSET on full rows",
     "SELECT application.* FROM application WHERE insurer_id = :i ORDER BY id DESC LIMIT 20 OFFSET :o"),
    ("last page, deferred join (ids from the index, then 20 rows; what the app runs)",
     "SELECT application.* FROM application JOIN (SELECT id FROM application WHERE insurer_id = :i "
     "ORDER BY id DESC LIMIT 20 OFFSET :o) AS page ON page.id = application.id ORDER BY application.id DESC"),
    ("surname prefix page 1, full rows",
     "SELECT application.* FROM application WHERE insurer_id = :i AND surname_key >= :lo AND surname_key < :hi "
     "ORDER BY id DESC LIMIT 20"),
    ("surname prefix page 1, deferred join (what the app runs)",
     "SELECT application.* FROM application JOIN (SELECT id FROM application WHERE insurer_id = :i "
     "AND surname_key >= :lo AND surname_key < :hi ORDER BY id DESC LIMIT 20) AS page ON page.id = application.id "
     "ORDER BY application.id DESC"),
    ("count of every row of the insurer (the app reads insurer.application_count instead)",
     "SELECT count(*) FROM application WHERE insurer_id = :i"),
    ("count capped at 10,001 ('10 000+ nəticə')",
     "SELECT count(*) FROM (SELECT 1 FROM application WHERE insurer_id = :i LIMIT 10001) AS capped"),
    ("20 notices one by one with their PDF (the N+1 the app no longer runs)", None),
    ("the 20 notices' ids in one query (the app joins them into the page query)",
     "SELECT id, application_id FROM notice WHERE application_id IN ({ids})"),
]


def query_what_if(app, insurer_id: int, rows: int, runs: int = 15) -> dict[str, float]:
    """Median time of the registry's queries in the shapes compared when choosing them (SQL only)."""
    import statistics

    from sqlalchemy import text

    from dost.extensions import db
    from dost.validation import search_key

    key = search_key("ismay")
    params = {"i": insurer_id, "o": max(0, rows - 20), "lo": key, "hi": key + "\U0010ffff"}
    results: dict[str, float] = {}
    with app.app_context(), db.engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text(
            "SELECT id FROM application WHERE insurer_id = :i ORDER BY id DESC LIMIT 20"), params)]
        id_list = ", ".join(str(i) for i in ids)
        for label, sql in QUERY_WHAT_IF:
            samples = []
            for _ in range(runs + 2):
                started = time.perf_counter_ns()
                if sql is None:
                    for application_id in ids:
                        conn.execute(text("SELECT * FROM notice WHERE application_id = :a"),
                                     {"a": application_id}).all()
                else:
                    conn.execute(text(sql.replace("{ids}", id_list)), params).all()
                samples.append((time.perf_counter_ns() - started) / 1e6)
            results[label] = round(statistics.median(samples[2:]), 3)
        conn.rollback()
    return results


def verdict(group: str | None, stats: dict) -> dict | None:
    if group is None:
        return None
    stat, limit = TARGETS[group]
    value = stats[stat]
    return {"statistic": stat, "limit_ms": limit, "value_ms": round(value, 3), "pass": value <= limit}


def run(backend: str, applications: int, runs: int = 300, notice_runs: int = 200,
        log: Callable[[str], None] = print) -> dict:
    """Measure every item on one backend; returns the result document (also written as JSON)."""
    load_before = load_average()
    app = build_app(database_url(backend, applications))
    log_path = _quiet_app_log(backend)
    facts = _facts(app)
    clients = {"largest": app.test_client(), "typical": app.test_client()}
    sign_in(clients["largest"], DEMO_SEAL_CARD)
    sign_in(clients["typical"], TYPICAL_SEAL_CARD)
    last_page = max(1, -(-facts["largest_rows"] // app.config["REGISTRY_PAGE_SIZE"]))
    items = [
        Item("baseline", "baseline: GET /healthz (same client, same run)", None, "largest", ["/healthz"]),
        Item("registry_largest", f"registry page, largest insurer ({facts['largest_rows']:,} rows)", "registry",
             "largest", ["/ssh/"]),
        Item("registry_typical", f"registry page, typical insurer ({facts['typical_rows']:,} rows)", "registry",
             "typical", ["/ssh/"]),
        Item("registry_last_page", f"registry page {last_page:,} (last) of the largest insurer", None, "largest",
             [f"/ssh/?page={last_page}"]),
        Item("search_surname", "search fragment, surname prefix (e.g. 'ismay'), largest insurer", "search",
             "largest", [f"/ssh/?surname={prefix}" for prefix in SURNAME_PREFIXES], dict(HX)),
        Item("search_fin", "search fragment, exact FİN, largest insurer", "search", "largest",
             [f"/ssh/?fin={fin.lower()}" for fin in facts["fins"]], dict(HX)),
        Item("redownload", "re-download of an issued notice (/ssh/<id>/notice.pdf)", "redownload", "largest",
             [f"/ssh/{application_id}/notice.pdf" for application_id in facts["download_ids"]]),
    ]
    log(f"registry [{backend}]: {facts['applications']:,} applications, {facts['insurers']:,} insurers; "
        f"{runs} interleaved rounds of {len(items)} requests")
    for warm in range(10):
        for item in items:
            response = clients[item.client_key].get(item.path(warm), headers=item.headers)
            if response.status_code != item.expect:
                raise RuntimeError(f"{item.name}: HTTP {response.status_code} for {item.path(warm)}")
    started_all = time.monotonic()
    for round_number in range(runs):
        for item in items:
            client = clients[item.client_key]
            path = item.path(round_number)
            cpu_started = time.thread_time_ns()
            started = time.perf_counter_ns()
            response = client.get(path, headers=item.headers)
            item.samples.append(time.perf_counter_ns() - started)
            item.cpu.append(time.thread_time_ns() - cpu_started)
            if response.status_code != item.expect:
                raise RuntimeError(f"{item.name}: HTTP {response.status_code} for {path}")
    log(f"  timed in {time.monotonic() - started_all:.1f} s")

    notice_samples, notice_cpu, notice_first_ms, pdf_bytes = _time_notice(app, facts["download_ids"][0], notice_runs)
    baseline = summarize(items[0].samples).as_dict()
    results = []
    for item in items:
        stats = summarize(item.samples).as_dict()
        cpu = summarize(item.cpu).as_dict()
        results.append({"name": item.name, "label": item.label, "group": item.group, **stats,
                        "cpu_median_ms": cpu["median_ms"], "cpu_p95_ms": cpu["p95_ms"],
                        "ratio_median": round(stats["median_ms"] / baseline["median_ms"], 2),
                        "ratio_p95": round(stats["p95_ms"] / baseline["p95_ms"], 2),
                        "verdict": verdict(item.group, stats)})
    notice_stats = summarize(notice_samples).as_dict()
    cpu = summarize(notice_cpu).as_dict()
    results.append({"name": "notice_render", "label": f"notice PDF generation (render_notice, {pdf_bytes:,} bytes)",
                    "group": "notice_render", **notice_stats,
                    "cpu_median_ms": cpu["median_ms"], "cpu_p95_ms": cpu["p95_ms"],
                    "ratio_median": round(notice_stats["median_ms"] / baseline["median_ms"], 2),
                    "ratio_p95": round(notice_stats["p95_ms"] / baseline["p95_ms"], 2),
                    "first_call_ms": round(notice_first_ms, 3),
                    "verdict": verdict("notice_render", notice_stats)})

    diagnostics = {item.name: _profile(app, clients[item.client_key], item, backend)
                   for item in items if item.name != "baseline"}
    query_experiment = query_what_if(app, facts["largest_insurer_id"], facts["largest_rows"])
    if not results[-1]["verdict"]["pass"]:
        results[-1]["what_if"] = notice_what_if(app, facts["download_ids"][0], max(30, notice_runs // 4))
    with app.app_context():
        from dost.extensions import db

        db.engine.dispose()
    facts.pop("fins")
    facts["download_ids"] = facts["download_ids"][:5]
    return {
        "part": "registry",
        "backend": backend,
        "applications": applications,
        "date": now_iso(),
        "runs": runs,
        "notice_runs": notice_runs,
        "load_before": load_before,
        "load_after": load_average(),
        "facts": facts,
        "results": results,
        "diagnostics": diagnostics,
        "query_what_if": query_experiment,
        "app_log": str(log_path.relative_to(RESULTS.parent.parent)),
    }


def print_report(doc: dict, log: Callable[[str], None] = print, explain: bool = False) -> None:
    """A table of the figures and PASS/MISS per target; plans of the slowest statements on a miss."""
    log(f"\nregistry [{doc['backend']}] — {doc['applications']:,} applications, {doc['date']}, "
        f"load {doc['load_before'][0]:.2f} → {doc['load_after'][0]:.2f}")
    log(f"  {'item':64} {'n':>5} {'median':>9} {'p95':>9} {'×base':>7} {'cpu med':>9}  target")
    for row in doc["results"]:
        target = ""
        if row["verdict"]:
            v = row["verdict"]
            stat = "p95" if v["statistic"] == "p95_ms" else "median"
            target = f"{'PASS' if v['pass'] else 'MISS'} ({stat} ≤ {v['limit_ms']:g} ms)"
        log(f"  {row['label'][:64]:64} {row['count']:>5} {row['median_ms']:>7.2f}ms {row['p95_ms']:>7.2f}ms "
            f"{row['ratio_median']:>6.1f}× {row['cpu_median_ms']:>7.2f}ms  {target}")
    for label, median in doc.get("query_what_if", {}).items():
        log(f"  SQL what-if (largest insurer, median): {label}: {median:.2f} ms")
    for label, median in doc["results"][-1].get("what_if", {}).items():
        log(f"  notice what-if (median, this process only): {label}: {median:.2f} ms")
    for name, diag in doc["diagnostics"].items():
        missed = any(r["name"] == name and r["verdict"] and not r["verdict"]["pass"] for r in doc["results"])
        log(f"  {name}: {diag['statements']} SQL statements, {diag['sql_ms']:.2f} ms SQL of "
            f"{diag['request_ms']:.2f} ms" + (f"; repeated: {sum(diag['repeated'].values())}" if diag['repeated']
                                               else ""))
        if missed or explain:
            for text, count in diag["repeated"].items():
                log(f"      ×{count}: {text}")
            for slow in diag["slowest"]:
                log(f"      {slow['ms']:.2f} ms: {slow['sql']}")
                for line in slow["plan"].splitlines():
                    log(f"          {line}")
