"""An independent OpenID provider on loopback for the relying-party tests, and a way through its screens.

The provider is panva/oidc-provider (OpenID Certified; tests/oidc, installed from the npm registry), configured
with the demo data's people as accounts. It stands behind a small forwarding proxy on the issuer's own address,
which passes everything through unchanged unless a test asks it to play an attacker or a failing network: tamper
with the ID token, replay an old token response, stall. The proxy also counts what the app asks for (JWKS fetches).

DOST_REQUIRE_OIDC_PROVIDER=1 (CI) turns a missing Node.js or oidc-provider into a failure instead of a skip."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "dost-ssh"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"
APP_BASE = "http://localhost"
REDIRECT_URI = f"{APP_BASE}/sign-in/callback"

# The demo data's insurers (dost.demo.INSURERS).
VOEN_A, VOEN_B, VOEN_C = "9802091761", "1403558271", "2600417342"
VALID = {"valid_from": "2025-06-01", "valid_until": "2030-06-30"}


def sima(phone: str, **extra) -> dict:
    return {"kind": "sima", "phone_number": phone, **VALID, **extra}


def card(serial: str, **extra) -> dict:
    return {"kind": "card", "serial": serial, **VALID, **extra}


def asan(phone: str, user_id: str, **extra) -> dict:
    return {"kind": "asan", "phone_number": phone, "asan_user_id": user_id, **VALID, **extra}


# Accounts of the provider: the person, the certificate used, and whom it may act for.
ACCOUNTS = {
    "card-seal-a": {"fin": "5ZK4R9P", "name": "Səmir Qələyev Nəzər oğlu", "certificate": card("1000000001"),
                    "organizations": [{"voen": VOEN_A, "seal": True}]},
    "asan-seal-b": {"fin": "3XJ8Q2W", "name": "Gülnarə Şükürova İlham qızı",
                    "certificate": asan("+994552345678", "200001"), "organizations": [{"voen": VOEN_B, "seal": True}]},
    "card-delegate-a": {"fin": "6PL2M3T", "name": "Aytən İsmayılova Eldəniz qızı", "certificate": card("1000000002"),
                        "organizations": []},
    "asan-delegate-b": {"fin": "7HT5N1K", "name": "Orxan Bağırov Vaqif oğlu",
                        "certificate": asan("+994703456789", "200002"), "organizations": []},
    # A certificate the app has never seen: registered at its first sign-in.
    "new-card-seal-c": {"fin": "2BC7D4F", "name": "Ülvi Çələbiyev Rövşən oğlu", "certificate": card("3000000077"),
                        "organizations": [{"voen": VOEN_C, "seal": True}]},
    "new-sima-seal-c": {"fin": "2BC7D4F", "name": "Ülvi Çələbiyev Rövşən oğlu", "certificate": sima("050 555 00 77"),
                        "organizations": [{"voen": VOEN_C, "seal": True}]},
    "expired": {"fin": "8MN3P5R", "name": "Kənan Həsənov Mübariz oğlu",
                "certificate": card("9000000001", valid_from="2024-01-01", valid_until="2025-01-01"),
                "organizations": []},
    "no-insurer": {"fin": "9QR2S4T", "name": "Fidan Nəsibova Rüfət qızı", "certificate": card("9000000002"),
                   "organizations": []},
    "unknown-fin": {"fin": "ZZZ9ZZZ", "name": "Naməlum Şəxs", "certificate": card("9100000001"),
                    "organizations": [{"voen": VOEN_A, "seal": True}]},
    "unknown-voen": {"fin": "9QR2S4T", "name": "Fidan Nəsibova Rüfət qızı", "certificate": card("9100000002"),
                     "organizations": [{"voen": "1999999991", "seal": True}]},
    "no-fin": {"name": "Səmir Qələyev Nəzər oğlu", "certificate": card("1000000001"),
               "organizations": [{"voen": VOEN_A, "seal": True}]},
    "bad-dates": {"fin": "5ZK4R9P", "name": "Səmir Qələyev Nəzər oğlu",
                  "certificate": card("1000000001", valid_until="31.12.2029"), "organizations": []},
    "two-seals": {"fin": "5ZK4R9P", "name": "Səmir Qələyev Nəzər oğlu", "certificate": card("1000000001"),
                  "organizations": [{"voen": VOEN_A, "seal": True}, {"voen": VOEN_B, "seal": True}]},
    "unknown-kind": {"fin": "5ZK4R9P", "name": "Səmir Qələyev Nəzər oğlu",
                     "certificate": {"kind": "fingerprint", **VALID}, "organizations": []},
}


def provider_available() -> bool:
    return shutil.which("node") is not None and (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir()


def require_provider() -> None:
    if provider_available():
        return
    message = "the independent OpenID provider needs Node.js and `npm ci --prefix tests/oidc`"
    if os.environ.get("DOST_REQUIRE_OIDC_PROVIDER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Proxy(ThreadingHTTPServer):
    """Forwards to the provider; `mode` makes it tamper with the token response or stall."""

    daemon_threads = True

    def __init__(self, port: int, upstream_port: int):
        super().__init__(("127.0.0.1", port), _ProxyHandler)
        self.upstream_port = upstream_port
        self.mode: str | None = None
        self.stall_seconds = 0.0
        self.requests: Counter[str] = Counter()
        self.last_token_body: bytes | None = None
        self.attacker_key = new_key("attacker")


class _ProxyHandler(BaseHTTPRequestHandler):
    server: Proxy
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _forward(self):
        proxy = self.server
        path = urlsplit(self.path).path
        proxy.requests[path] += 1
        if proxy.mode == "stall":
            time.sleep(proxy.stall_seconds)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "accept-encoding")}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        response_headers = [(k, v) for k, v in response.getheaders()
                            if k.lower() not in ("connection", "transfer-encoding", "content-length",
                                                 "keep-alive")]
        if path == "/token" and response.status == 200:
            data = self._tamper(data)
        elif path == "/jwks" and proxy.mode in CLAIM_TAMPERING:
            # The attacker's key among the trusted ones: what is tested is the claims check, not the signature.
            keys = json.loads(data)
            keys["keys"].append(proxy.attacker_key.as_dict(private=False))
            data = json.dumps(keys).encode()
        upstream.close()
        self.send_response(response.status)
        for key, value in response_headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _tamper(self, data: bytes) -> bytes:
        proxy = self.server
        if proxy.mode == "replay" and proxy.last_token_body is not None:
            return proxy.last_token_body
        proxy.last_token_body = data
        if proxy.mode is None or proxy.mode == "replay":
            return data
        token = json.loads(data)
        header, payload, signature = token["id_token"].split(".")
        if proxy.mode == "signature":
            flipped = bytearray(base64.urlsafe_b64decode(signature + "=="))
            flipped[10] ^= 0xFF
            token["id_token"] = f"{header}.{payload}.{_b64(bytes(flipped))}"
        elif proxy.mode in CLAIM_TAMPERING:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
            CLAIM_TAMPERING[proxy.mode](claims)
            token["id_token"] = jwt.encode({"alg": "RS256", "kid": "attacker"}, claims, proxy.attacker_key)
        return json.dumps(token).encode()

    do_GET = _forward
    do_POST = _forward


CLAIM_TAMPERING: dict[str, Callable[[dict], None]] = {
    "aud": lambda claims: claims.update(aud="another-client"),
    "iss": lambda claims: claims.update(iss="http://evil.example"),
    "expired": lambda claims: claims.update(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
    "nonce": lambda claims: claims.update(nonce="not-the-one-sent"),
    "sub": lambda claims: claims.update(sub="someone-else"),
}


class TestProvider:
    """oidc-provider on a loopback port, reached through the proxy at the issuer's address."""

    __test__ = False

    def __init__(self, workdir: Path, redirect_uris: list[str] | None = None,
                 post_logout_redirect_uris: list[str] | None = None):
        self.workdir = workdir
        self.redirect_uris = redirect_uris or [REDIRECT_URI]
        self.post_logout_redirect_uris = post_logout_redirect_uris or [f"{APP_BASE}/sign-in"]
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.upstream_port = free_port()
        self.key = new_key("key-1")
        self.process: subprocess.Popen | None = None
        self.proxy = Proxy(self.port, self.upstream_port)
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()

    def start(self) -> None:
        config = self.workdir / "provider.json"
        config.write_text(json.dumps({
            "issuer": self.issuer,
            "port": self.upstream_port,
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": self.redirect_uris,
                "post_logout_redirect_uris": self.post_logout_redirect_uris,
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }],
            "jwks": {"keys": [self.key.as_dict(private=True)]},
            "accounts": ACCOUNTS,
        }))
        log = self.workdir / "provider.log"
        with log.open("w") as output:
            self.process = subprocess.Popen(["node", str(PROVIDER_DIR / "provider.mjs"), str(config)],
                                            stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "ready " not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test OpenID provider did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def rotate_key(self) -> None:
        """A new signing key (a new kid), as at a provider's key rotation; its sessions and codes are gone."""
        self.stop()
        self.key = new_key(f"key-{time.monotonic_ns()}")
        self.start()

    def close(self) -> None:
        self.stop()
        self.proxy.shutdown()
        self.proxy.server_close()

    def reset(self) -> None:
        self.proxy.mode = None
        self.proxy.stall_seconds = 0.0
        self.proxy.requests.clear()
        self.proxy.last_token_body = None


_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
_ABORT = re.compile(r'href="([^"]*/abort)"')


def through_provider(authorize_url: str, account: str, *, cancel: bool = False,
                     browser: requests.Session | None = None) -> str:
    """Sign in at the provider as `account` (its development login and consent screens, as a browser would), and
    return the URL it sends the browser back to (the app's callback)."""
    browser = browser or requests.Session()
    response = browser.get(authorize_url, allow_redirects=False, timeout=10)
    for _ in range(12):
        location = response.headers.get("Location")
        if location is not None:
            target = urljoin(response.url, location)
            if not target.startswith(authorize_url.split("/auth", 1)[0]):
                return target
            response = browser.get(target, allow_redirects=False, timeout=10)
            continue
        page = response.text
        action = _FORM_ACTION.search(page)
        assert response.status_code == 200 and action, (response.status_code, page[:500])
        if cancel:
            response = browser.get(urljoin(response.url, _ABORT.search(page).group(1)), allow_redirects=False,
                                   timeout=10)
        elif 'value="login"' in page:
            response = browser.post(urljoin(response.url, action.group(1)),
                                    data={"prompt": "login", "login": account, "password": "any"},
                                    allow_redirects=False, timeout=10)
        else:
            response = browser.post(urljoin(response.url, action.group(1)), data={"prompt": "consent"},
                                    allow_redirects=False, timeout=10)
    raise AssertionError("the provider never sent the browser back")


def app_path(url: str) -> str:
    """The part of an absolute URL of the app that the Flask test client takes."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def national_sign_in(client, account: str, **kwargs):
    """The whole sign-in: the app's redirect, the provider's screens, the app's callback; returns the callback's
    response."""
    start = client.get("/sign-in/national")
    assert start.status_code == 302, start.get_data(as_text=True)[:500]
    return client.get(app_path(through_provider(start.headers["Location"], account, **kwargs)))
