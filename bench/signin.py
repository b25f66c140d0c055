"""`python -m bench signin` (issue 14): the complete employer sign-in at the national login, as `make run` serves
it — the demo identity provider mounted beside the app in one gunicorn (2 workers, 4 threads), a fresh demo
database — against the same server's `/healthz`.

Each round is what a browser does, timed step by step: the app's redirect to the provider; the provider's sign-in
page; the card and PIN posted to the provider (its PIN check, argon2 at production cost, and its redirect with the
code); the app's callback (code exchange at the provider's token endpoint, the ID token's signature and claims
checked against the cached JWKS, the credential brought up to date, the audit event, the session); the first page.
Then ÇIXIŞ, so the next round signs in afresh. JWKS fetches are counted in the server's log (the provider logs each):
the target is one per worker process and key, never one per sign-in.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, VENV_BIN, now_iso, summarize, write_json
from bench.load.markdown import write_section
from bench.verify_load import Gunicorn

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CARD = ("1000000001", "1111")
STEPS = ("redirect", "provider_page", "provider_sign_in", "callback", "first_page")
CALLBACK_P95_LIMIT_MS = 50.0


class DemoServer(Gunicorn):
    """gunicorn serving the app with the demo identity provider, on a fresh demo SQLite database of its own."""

    def __init__(self, workdir: Path, workers: int, threads: int) -> None:
        super().__init__(0, workers, threads)
        database = f"sqlite:///{workdir / 'dost.sqlite3'}"
        self.env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("DOST_")},
            "DOST_DATABASE_URL": database,
            "DOST_SECRET_KEY": "bench-signin-secret",
            "DOST_SIGN_IN_RATE_LIMIT": "100000000 per minute",
            "DOST_DEMO_PROVIDERS": "1",
            "DOST_DEMO_IDP_ISSUER": f"{self.base}/demo-idp",
            "DOST_DEMO_IDP_DATABASE_URL": f"sqlite:///{workdir / 'demo-idp.sqlite3'}",
            "DOST_AUDIT_KEY": "bench-signin-audit-key-0123456789abcdef",
            "DOST_AUDIT_CHECKPOINT_FILE": str(workdir / "audit-checkpoints.jsonl"),
        }
        self.log_path = workdir / "gunicorn.log"
        for command in (["db", "upgrade"], ["dost", "demo"]):
            subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *command], cwd=ROOT, env=self.env, check=True,
                           capture_output=True, timeout=600)


def _sign_in_once(base: str, timings: dict[str, list[int]]) -> None:
    import requests

    browser = requests.Session()

    def timed(step: str, call):
        started = time.perf_counter_ns()
        response = call()
        timings[step].append(time.perf_counter_ns() - started)
        return response

    start = timed("redirect", lambda: browser.get(f"{base}/sign-in/national", allow_redirects=False, timeout=10))
    page = timed("provider_page", lambda: browser.get(start.headers["Location"], timeout=10))
    token = CSRF.search(page.text).group(1)
    answer = timed("provider_sign_in", lambda: browser.post(
        page.url, data={"csrf_token": token, "action": "card", "card_number": CARD[0], "pin": CARD[1]},
        allow_redirects=False, timeout=10))
    callback = timed("callback", lambda: browser.get(answer.headers["Location"], allow_redirects=False, timeout=10))
    if callback.status_code != 302 or not callback.headers["Location"].endswith("/insurer"):
        raise RuntimeError(f"sign-in failed: HTTP {callback.status_code}")
    first = timed("first_page", lambda: browser.get(f"{base}/insurer", timeout=10))
    if first.status_code != 200:
        raise RuntimeError(f"first page: HTTP {first.status_code}")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', first.text).group(1)
    browser.post(f"{base}/sign-out", data={"csrf_token": csrf}, timeout=10)


def run(rounds: int = 100, workers: int = 2, threads: int = 4, log=print) -> dict:
    """Measure `rounds` complete sign-ins and as many /healthz requests, interleaved, on one server."""
    import requests

    workdir = Path(tempfile.mkdtemp(prefix="dost-bench-signin-"))
    log(f"signin: preparing a demo database in {workdir}")
    timings: dict[str, list[int]] = {step: [] for step in (*STEPS, "complete", "healthz")}
    with DemoServer(workdir, workers, threads) as server:
        health = requests.Session()
        for _ in range(5):  # warm-up: discovery, JWKS, templates, connections
            _sign_in_once(server.base, {step: [] for step in timings})
        for round_number in range(rounds):
            started = time.perf_counter_ns()
            health.get(f"{server.base}/healthz", timeout=10)
            timings["healthz"].append(time.perf_counter_ns() - started)
            before = {step: len(values) for step, values in timings.items()}
            started = time.perf_counter_ns()
            _sign_in_once(server.base, timings)
            timings["complete"].append(time.perf_counter_ns() - started)
            assert all(len(timings[step]) == before[step] + 1 for step in STEPS)
            if (round_number + 1) % 25 == 0:
                log(f"signin: {round_number + 1}/{rounds}")
        time.sleep(0.5)
    access_log = server.log_path.read_text(errors="replace")
    # Served in-process to the app (dost.demo_idp.transport), so counted by the provider's own log line.
    jwks_fetches = access_log.count("demo identity provider: key set served")
    sign_ins = rounds + 5
    stats = {step: summarize(values).as_dict() for step, values in timings.items()}
    healthz_median = stats["healthz"]["median_ms"]
    callback_p95 = stats["callback"]["p95_ms"]
    return {
        "part": "signin",
        "at": now_iso(),
        "rounds": rounds,
        "workers": workers,
        "threads": threads,
        "stats": stats,
        "ratios_to_healthz_median": {step: round(stats[step]["median_ms"] / healthz_median, 1)
                                     for step in (*STEPS, "complete")},
        "jwks_fetches": jwks_fetches,
        "sign_ins": sign_ins,
        "verdicts": {
            "callback_p95": {"value_ms": callback_p95, "limit_ms": CALLBACK_P95_LIMIT_MS,
                             "pass": callback_p95 <= CALLBACK_P95_LIMIT_MS},
            "jwks": {"value": jwks_fetches, "limit": workers, "pass": 0 < jwks_fetches <= workers},
        },
    }


LABELS = {
    "redirect": "app: redirect to the provider (`/sign-in/national`)",
    "provider_page": "provider: its sign-in page",
    "provider_sign_in": "provider: card + PIN checked (argon2), redirect with the code",
    "callback": "**app: callback** (code exchange, ID token check, credential, audit, session)",
    "first_page": "app: first page (`/insurer`)",
    "complete": "**complete sign-in** (the five requests)",
    "healthz": "`/healthz` (baseline, same server, interleaved)",
}


def markdown(doc: dict) -> str:
    verdicts = doc["verdicts"]
    callback = verdicts["callback_p95"]
    overall = "PASS" if all(v["pass"] for v in verdicts.values()) else "MISS"
    lines = [
        f"## Sign-in at the national login (issue 14) — {overall}",
        "",
        f"`python -m bench signin` ({doc['at']}): {doc['rounds']} complete card sign-ins at the demo identity "
        f"provider, one after another, as `make run` serves them (gunicorn, {doc['workers']} workers × "
        f"{doc['threads']} threads, SQLite, the provider mounted at `/demo-idp` and its back channel answered "
        "in-process), interleaved with `/healthz`.",
        "",
        "| Step | median | p95 | median ÷ `/healthz` median |",
        "|---|---|---|---|",
    ]
    for step in (*STEPS, "complete", "healthz"):
        stats = doc["stats"][step]
        ratio = doc["ratios_to_healthz_median"].get(step)
        lines.append(f"| {LABELS[step]} | {stats['median_ms']:.1f} ms | {stats['p95_ms']:.1f} ms | "
                     f"{'—' if ratio is None else f'{ratio:g}×'} |")
    lines += [
        "",
        f"- The app's own share, the callback: p95 **{callback['value_ms']:.1f} ms** (target ≤ "
        f"{callback['limit_ms']:g} ms) — {'PASS' if callback['pass'] else 'MISS'}.",
        f"- JWKS fetched **{doc['jwks_fetches']}** times in {doc['sign_ins']} sign-ins (target: once per worker "
        f"process, {doc['workers']}) — {'PASS' if verdicts['jwks']['pass'] else 'MISS'}.",
        "- Most of a complete sign-in is the provider's PIN check (argon2 at production cost), as it should be.",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench signin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--no-markdown", action="store_true")
    args = parser.parse_args(argv)
    doc = run(args.rounds, log=lambda text: print(text, flush=True))
    write_json("signin.json", doc)
    text = markdown(doc)
    print(text)
    if not args.no_markdown:
        write_section("signin", text)
    return 0 if all(v["pass"] for v in doc["verdicts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
