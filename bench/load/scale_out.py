"""Two app processes behind nginx share PostgreSQL and Redis: sessions, rate limits and request ids.

Starts two `gunicorn -w 2 app:app` on two loopback ports with the same DOST_SECRET_KEY, database (the bench's own
cluster on port 5433) and DOST_RATELIMIT_STORAGE_URL=redis://127.0.0.1:6379/14, and nginx from Debian
(`nginx -c bench/results/nginx/nginx.conf -g 'daemon off;'`) in front of them on a third port. Proves: a session
made on process 1 is valid on process 2 and through nginx (including a CSRF-protected post); the sign-in limit
("5 per minute") counts across both processes; nginx's $request_id comes back as X-Request-ID and is in the
app's JSON log.

`python -m bench scale-out`
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.common import RESULTS, now_iso, write_json
from bench.load import cluster, markdown
from bench.load.http import Client, Gunicorn
from bench.verify_load import free_port

DATABASE = "dost_scale"
REDIS_URL = "redis://127.0.0.1:6379/14"
SIGN_IN_LIMIT = "5 per minute"
NGINX_DIR = RESULTS / "nginx"

CONFIG = """# Written by bench/load/scale_out.py: two DOST app processes behind one nginx, all on loopback.
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format dost '$remote_addr [$time_local] "$request" $status request_id=$request_id upstream=$upstream_addr';
    access_log {dir}/access.log dost;
    upstream dost {{
        server 127.0.0.1:{port1};
        server 127.0.0.1:{port2};
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://dost;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Request-ID $request_id;
        }}
    }}
}}
"""


class Nginx:
    """nginx in the foreground as our child, everything it writes under bench/results/nginx/."""

    def __init__(self, upstream_ports: tuple[int, int]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = NGINX_DIR / "nginx.conf"
        self.upstream_ports = upstream_ports
        self.process: subprocess.Popen | None = None

    def start(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            subprocess.run(["apt-get", "install", "-y", "nginx"], check=True, capture_output=True, timeout=600)
        NGINX_DIR.mkdir(parents=True, exist_ok=True)
        for name in ("access.log", "error.log"):
            (NGINX_DIR / name).write_text("")
        self.config.write_text(CONFIG.format(dir=NGINX_DIR, port=self.port, port1=self.upstream_ports[0],
                                             port2=self.upstream_ports[1]))
        command = [binary, "-p", str(NGINX_DIR), "-e", str(NGINX_DIR / "error.log"), "-c", str(self.config),
                   "-g", "daemon off;"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("nginx did not listen")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful shutdown of master and worker
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process.stderr.close()


def _flush_limits() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # db 14 is this bench's own


def _check(name: str, passed: bool, detail: str) -> dict:
    return {"check": name, "passed": bool(passed), "detail": detail}


def check_sessions(one: str, two: str, proxy: str) -> list[dict]:
    """Sign in on process 1; the same cookie works on process 2 and through nginx, CSRF token included."""
    client = Client(one)
    signed = client.sign_in_card("1000000001", "1111")
    on_one = client.get("/ssh/")
    on_two = client.get("/ssh/", base=two)
    via_nginx = [client.get("/ssh/", base=proxy).status for _ in range(4)]
    lookup = client.post("/ssh/wizard", {"step": "dsmf", "action": "to_identity",
                                         "submission_key": secrets.token_urlsafe(32)}, base=two)
    anonymous = Client(two).get("/ssh/")
    return [
        _check("session made on process 1 is valid on process 2",
               signed.status == 302 and on_one.status == 200 and on_two.status == 200 and anonymous.status == 302,
               f"sign-in on :{_port(one)} → {signed.status}; GET /ssh/ on :{_port(one)} → {on_one.status}, "
               f"on :{_port(two)} → {on_two.status} (without the cookie → {anonymous.status})"),
        _check("session valid through nginx (both upstreams)", all(s == 200 for s in via_nginx),
               f"4 × GET /ssh/ via nginx → {via_nginx}"),
        _check("CSRF token from process 1 accepted by process 2", lookup.status == 200,
               f"POST /ssh/wizard on :{_port(two)} with process 1's token → {lookup.status}"),
    ]


def check_rate_limit(one: str, two: str) -> list[dict]:
    """3 sign-ins started on each process: the 6th is refused (429) because both count in Redis."""
    _flush_limits()
    client = Client(one)
    statuses = []
    for base in (one, one, one, two, two, two):
        statuses.append(client.get("/sign-in/national", base=base).status)
    _flush_limits()  # do not leave the address limited for the next check or run
    passed = all(s != 429 for s in statuses[:5]) and statuses[5] == 429
    return [_check(f"sign-in limit ({SIGN_IN_LIMIT}) counts across both processes", passed,
                   f"sign-in started 3 × on :{_port(one)} then 3 × on :{_port(two)} → {statuses}")]


def check_request_id(proxy: str, logs: list[Path]) -> list[dict]:
    """nginx's $request_id reaches the app, comes back in X-Request-ID and is in one process's JSON log."""
    response = Client(proxy).get("/healthz", headers={"X-Request-ID": "client-supplied-id-0001"})
    request_id = response.headers.get("X-Request-ID", "")
    found = None
    deadline = time.monotonic() + 5
    while found is None and time.monotonic() < deadline:
        for path in logs:
            for line in path.read_text(errors="replace").splitlines():
                if request_id and request_id in line and line.startswith("{"):
                    entry = json.loads(line)
                    if entry.get("request_id") == request_id:
                        found = (path.name, entry)
                        break
            if found:
                break
        time.sleep(0.2)
    nginx_logged = request_id and request_id in (NGINX_DIR / "access.log").read_text()
    return [
        _check("X-Request-ID from nginx is returned", bool(re.fullmatch(r"[0-9a-f]{32}", request_id)),
               f"GET /healthz via nginx → {response.status}, X-Request-ID {request_id or '(none)'} (nginx's "
               "$request_id replaces the client's own)"),
        _check("the same id is in the app's JSON log and nginx's access log", bool(found) and bool(nginx_logged),
               f"{found[0]}: {json.dumps(found[1], ensure_ascii=False)}" if found else "not found in app logs"),
    ]


def _port(base: str) -> str:
    return base.rsplit(":", 1)[1]


def run(log=print) -> dict:
    url = cluster.prepare(DATABASE, log)
    env = {"DOST_DATABASE_URL": url, "DOST_SECRET_KEY": secrets.token_hex(32), "DOST_RATELIMIT_STORAGE_URL": REDIS_URL,
           "DOST_SIGN_IN_RATE_LIMIT": SIGN_IN_LIMIT, "DOST_VERIFY_RATE_LIMIT": "1000 per minute"}
    _flush_limits()
    apps = [Gunicorn(env, RESULTS / f"gunicorn-scale-out-{i}.log") for i in (1, 2)]
    proxy = None
    checks: list[dict] = []
    try:
        for app in apps:
            app.start()
        proxy = Nginx((apps[0].port, apps[1].port)).start()
        log(f"app 1 {apps[0].base}, app 2 {apps[1].base}, nginx {proxy.base} (config {proxy.config})")
        checks += check_sessions(apps[0].base, apps[1].base, proxy.base)
        checks += check_rate_limit(apps[0].base, apps[1].base)
        checks += check_request_id(proxy.base, [app.log_path for app in apps])
        upstreams = set(re.findall(r"upstream=(\S+)", (NGINX_DIR / "access.log").read_text()))
        checks.append(_check("nginx spread requests over both processes", len(upstreams) == 2,
                             f"upstreams seen in access.log: {sorted(upstreams)}"))
    finally:
        if proxy is not None:
            proxy.stop()
        for app in apps:
            app.stop()
        cluster.stop()  # leave the bench cluster stopped
    return {"kind": "scale-out", "finished_at": now_iso(), "database": url, "redis": REDIS_URL,
            "checks": checks, "passed": bool(checks) and all(c["passed"] for c in checks)}


def markdown_section(doc: dict, command: str) -> str:
    lines = [f"## Scale-out behind nginx (issue 8) — {'PASS' if doc['passed'] else 'FAIL'}", "",
             f"`{command}` — {doc['finished_at']}: two `gunicorn -w 2 app:app` processes on two loopback ports, "
             f"same `DOST_SECRET_KEY`, same PostgreSQL database, limits in Redis (`{doc['redis']}`), behind Debian's "
             "nginx (config written to `bench/results/nginx/nginx.conf`).", "",
             "| Check | Result | Detail |", "|---|---|---|"]
    for c in doc["checks"]:
        lines.append(f"| {c['check']} | {'PASS' if c['passed'] else 'FAIL'} | "
                     f"{c['detail'].replace('|', '/')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scale-out", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-markdown", dest="markdown", action="store_false", help="do not write BENCHMARKS.md")
    args = parser.parse_args(argv)
    doc = run(log=lambda text: print(text, flush=True))
    for c in doc["checks"]:
        print(f"{'PASS' if c['passed'] else 'FAIL'}  {c['check']}\n      {c['detail']}")
    print("PASS" if doc["passed"] else "FAIL")
    write_json("scale-out.json", doc)
    if args.markdown:
        markdown.write_section("scale-out", markdown_section(doc, "python -m bench scale-out"))
        print("wrote BENCHMARKS.md section scale-out")
    return 0 if doc["passed"] else 1
