"""A small HTTP client for the load: one cookie jar per virtual user, redirects not followed, CSRF from the page."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.common import CSRF_META, ROOT, VENV_BIN
from bench.verify_load import free_port

TIMEOUT = 30.0  # a request slower than this counts as a hang (an error)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str]
    elapsed_ms: float
    error: str = ""  # a transport failure (refused, reset, timeout): status is 0


class Client:
    """A browser-like session against one base URL (cookies are shared by host, whatever the port)."""

    def __init__(self, base: str, jar: http.cookiejar.CookieJar | None = None) -> None:
        self.base = base.rstrip("/")
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())
        self.csrf = ""

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None,
                base: str | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        all_headers = {"Accept-Language": "az", **(headers or {})}
        if method == "POST" and self.csrf:
            all_headers["X-CSRFToken"] = self.csrf
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            (base or self.base) + path, data=body, method=method, headers=all_headers)
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:  # noqa: S310 - loopback only
                text = response.read().decode("utf-8", "replace")
                return Response(response.status, text, dict(response.headers), _ms(started))
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            return Response(error.code, text, dict(error.headers), _ms(started))
        except (OSError, urllib.error.URLError) as error:
            return Response(0, "", {}, _ms(started), error=repr(error))

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> Response:
        return self.request("POST", path, data=data, **kwargs)

    def take_csrf(self, response: Response) -> None:
        match = CSRF_META.search(response.body)
        if match:
            self.csrf = match.group(1)

    def sign_in_card(self, card: str, pin: str) -> Response:
        """The card sign-in at the national login (the demo identity provider the server mounts): the app's
        redirect, the provider's page, the card and PIN posted there, the app's callback; returns the callback's
        answer (302 when signed in)."""
        start = self.get("/sign-in/national")
        if start.status != 302:
            return start
        provider = _path(start.headers["Location"])
        page = self.get(provider)
        token = PROVIDER_CSRF.search(page.body)
        if page.status != 200 or token is None:
            return page
        answer = self.post(provider, {"csrf_token": token.group(1), "action": "card", "card_number": card,
                                      "pin": pin})
        if answer.status != 302:
            return answer
        response = self.get(_path(answer.headers["Location"]))
        if response.status == 302:
            # The session (and with it the CSRF token) is new after signing in.
            self.refresh_csrf("/ssh/new")
        return response

    def refresh_csrf(self, path: str) -> None:
        for _attempt in range(3):
            page = self.get(path)
            if page.status == 200:
                self.take_csrf(page)
                return

    def sign_in_staff(self, username: str, password: str, code: str) -> Response:
        self.take_csrf(self.get("/staff/sign-in"))
        response = self.post("/staff/sign-in", {"username": username, "password": password, "code": code})
        if response.status == 302:
            self.refresh_csrf("/staff/")
        return response


PROVIDER_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _path(url: str) -> str:
    """The path and query of an absolute URL on the server (the app's or its demo identity provider's)."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def staff_code(username: str, step_offset: int = 0) -> str:
    """The demo staff user's TOTP code (dost/demo.py derives the secret deterministically)."""
    import pyotp

    from dost.demo import _totp_secret

    totp = pyotp.TOTP(_totp_secret(username), interval=30)
    return totp.at(time.time() + 30 * step_offset)


class Gunicorn:
    """`gunicorn -w N app:app` on a loopback port with the given DOST_* settings; its log is JSON lines."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 2, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Employers sign in at the demo identity provider, mounted by each server at its own address.
        self.env = {**os.environ, "DOST_DEMO_PROVIDERS": "1", "DOST_DEMO_IDP_ISSUER": f"{self.base}/demo-idp", **env}
        self.log_path = log_path
        self.workers = workers
        self.process: subprocess.Popen | None = None
        self.log = None

    def start(self) -> Gunicorn:
        command = [str(VENV_BIN / "gunicorn"), "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
                   "--graceful-timeout", "10", "app:app"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer on {self.base}; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # our own process group only
                self.process.wait(timeout=10)
        if self.log is not None:
            self.log.close()
            self.log = None
