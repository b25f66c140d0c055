"""Security headers on every kind of response, no inline script or style anywhere (so the CSP needs no
'unsafe-inline'), HTTPS behind the proxy (ProxyFix: HSTS, Secure cookies), cookie flags, session rotation at
sign-in and clearing at sign-out for employers and staff, and the 413 page for oversized bodies."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from dost.extensions import db
from tests.conftest import build_app, sign_in_card
from tests.staff_support import PASSWORDS, sign_in_staff, staff, totp_code
from tests.test_authorization_matrix import _body, _objects, _url, walks
from tests.test_signing import make_notice

TEMPLATES = Path(__file__).resolve().parent.parent / "dost" / "templates"
INLINE = {
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>|<script\b[^>]*>\s*[^<\s]", re.I),
    "event handler attribute": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I),
    "htmx inline handler": re.compile(r"\shx-on[:-]", re.I),
    "javascript: URL": re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
}
# 6 MiB: above MAX_CONTENT_LENGTH (5 MiB).
BIG = "x" * (6 * 1024 * 1024)
TOO_LARGE = "Göndərilən fayl və ya məlumat çox böyükdür"


def assert_security_headers(response, where: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives.get("script-src") == ["'self'"], (where, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (where, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (where, csp)
    assert directives.get("object-src") == ["'none'"] and directives.get("base-uri") == ["'none'"], (where, csp)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), where
    assert response.headers.get("X-Frame-Options") == "DENY", where


def assert_no_inline_code(text: str, where: str) -> None:
    for name, pattern in INLINE.items():
        match = pattern.search(text)
        assert match is None, f"{where}: {name}: {text[max(0, match.start() - 80):match.end() + 80]!r}"


# ---------------------------------------------------------------- headers


def test_headers_on_every_kind_of_response(app, client, session, monkeypatch):
    notice = make_notice(session)
    employer = app.test_client()
    assert sign_in_card(employer).status_code == 302
    responses = {
        "page": client.get("/sign-in"),
        "fragment": employer.get("/inbox/", headers={"HX-Request": "true"}),
        "json": client.get("/healthz"),
        "json api": client.post("/api/v1/verify", json={"number": "x", "code": "y"}),
        "json api error": client.get("/api/v1/authorizations"),
        "pdf": employer.get(f"/ssh/{notice.application_id}/notice.pdf"),
        "csv": employer.get("/grants/registry.csv"),
        "static css": client.get("/static/css/app.css"),
        "static js": client.get("/static/js/htmx.min.js"),
        "redirect": client.get("/insurer"),
        "404 page": client.get("/no-such-page"),
        "404 fragment": client.get("/no-such-page", headers={"HX-Request": "true"}),
        "405 page": client.get("/sign-out"),
        "csrf 400 page": client.post("/feedback", csrf=False),
        "413 page": client.post("/staff/sign-in", data={"password": BIG}),
    }
    assert responses["pdf"].headers["Content-Type"] == "application/pdf"
    assert responses["fragment"].status_code == 200 and "<html" not in responses["fragment"].get_data(as_text=True)
    # A 500 and a 503 (database down) from a view that fails.
    monkeypatch.setitem(app.view_functions, "pages.manual", lambda: 1 / 0)
    responses["500 page"] = client.get("/manual")
    monkeypatch.setitem(app.view_functions, "pages.manual",
                        lambda: (_ for _ in ()).throw(OperationalError("SELECT 1", {}, Exception("down"))))
    responses["503 page"] = client.get("/manual")
    for name, response in responses.items():
        assert_security_headers(response, name)
        response.close()
    assert responses["500 page"].status_code == 500 and responses["503 page"].status_code == 503
    assert responses["503 page"].headers["Retry-After"] == "30"
    assert "Strict-Transport-Security" not in responses["page"].headers  # plain http: no HSTS


@pytest.mark.parametrize("who", ["seal_a", "admin"])
def test_every_get_route_has_the_headers_and_no_inline_code(app, client, who):
    """Every GET route of the URL map, as an employer and as the administrator: headers, and no inline code in
    any HTML it renders."""
    values = _objects(app)
    values["grant_id"] = 1
    if who == "admin":
        assert sign_in_staff(client, "admin").status_code == 302
    else:
        assert sign_in_card(client).status_code == 302
    walked = 0
    for endpoint, method, variant, rule in walks(app):
        if method != "GET" or endpoint in ("auth.sign_out", "staff.sign_out"):
            continue
        url = _url(app, endpoint, rule, variant, values)
        for htmx in (False, True):
            response = client.get(url, headers={"HX-Request": "true"} if htmx else {},
                                  **{k: v for k, v in _body(endpoint, variant, values).items() if k != "data"})
            assert_security_headers(response, url)
            if response.mimetype == "text/html":
                assert_no_inline_code(response.get_data(as_text=True), f"{url} (htmx={htmx})")
            response.close()
            walked += 1
    assert walked >= 80


def test_no_template_has_inline_script_handlers_or_style():
    checked = 0
    for path in sorted(TEMPLATES.rglob("*.html")):
        assert_no_inline_code(path.read_text(encoding="utf-8"), str(path.relative_to(TEMPLATES)))
        checked += 1
    assert checked >= 40


def test_pages_rendered_from_post_have_no_inline_code(app, client):
    """The TOTP enrolment page (an SVG QR code) and a wizard step: pages only a POST renders."""
    assert sign_in_staff(client, "admin").status_code == 302
    with app.app_context():
        user_id = staff(db.session, "agent.bak1").id
    enrolment = client.post(f"/staff/admin/users/{user_id}/reset-totp")
    assert enrolment.status_code == 200 and "<svg" in enrolment.get_data(as_text=True)
    assert_no_inline_code(enrolment.get_data(as_text=True), "enrolment")
    assert_security_headers(enrolment, "enrolment")


def test_htmx_is_configured_by_meta_tag_without_eval(client):
    page = client.get("/sign-in").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', page)
    assert config and '"allowEval": false' in config.group(1) and '"allowScriptTags": false' in config.group(1)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts and all(src.startswith("/static/") for src in scripts)  # served here, no CDN


# ---------------------------------------------------------------- HTTPS behind the proxy


@pytest.fixture
def https_app(app, monkeypatch, tmp_path) -> Flask:
    """The app as deployed behind nginx with DOST_HTTPS=1, on the test database."""
    monkeypatch.setenv("DOST_HTTPS", "1")
    secured = build_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    yield secured
    with secured.app_context():
        db.session.remove()
        db.engine.dispose()


def _session_cookie_header(response) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_https_behind_the_proxy_sends_hsts_and_secure_cookies(https_app):
    assert https_app.config["SESSION_COOKIE_SECURE"] and https_app.config["PREFERRED_URL_SCHEME"] == "https"
    client = https_app.test_client()
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    page = client.get("/sign-in", headers=proxied)
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    cookie = _session_cookie_header(page)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True)).group(1)
    with https_app.app_context():
        code = totp_code(db.session, "agent.bak1")
        db.session.remove()
    form = {"username": "agent.bak1", "password": PASSWORDS["agent.bak1"], "code": code}
    # Over https Flask-WTF also wants a same-origin Referer (Referrer-Policy same-origin lets browsers send it).
    for referer in (None, "https://evil.example/sign-in"):
        refused = client.post("/staff/sign-in", data=form, csrf=False, headers={
            **proxied, "X-CSRFToken": token, **({"Referer": referer} if referer else {})})
        assert refused.status_code == 400, referer
    signed_in = client.post("/staff/sign-in", data=form, csrf=False, headers={
        **proxied, "X-CSRFToken": token, "Referer": "https://localhost/staff/sign-in"})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].startswith("/staff")
    assert "Secure" in _session_cookie_header(signed_in)
    # The way to the national login is an https URL of this site's too.
    start = client.get("/sign-in/national", headers=proxied)
    assert start.status_code == 302 and "Secure" in _session_cookie_header(start)
    # The proxy said the request came over plain http: no HSTS (browsers ignore it there anyway).
    assert "Strict-Transport-Security" not in client.get("/healthz", headers={"X-Forwarded-Proto": "http"}).headers


def test_without_the_proxy_setting_forwarded_headers_are_not_trusted(app, client):
    response = client.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers
    assert "Secure" not in _session_cookie_header(response)


def test_the_proxy_fix_trusts_one_hop_for_the_client_address(https_app):
    seen = {}

    @https_app.before_request
    def remember():
        from flask import request

        seen["addr"] = request.remote_addr
        seen["host"] = request.host

    https_app.test_client().get("/healthz", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9",
                                                     "X-Forwarded-Host": "evil.example"})
    assert seen == {"addr": "203.0.113.9", "host": "localhost"}


# ---------------------------------------------------------------- cookies and sessions


def _decode(app: Flask, cookie_value: str) -> dict:
    return dict(app.session_interface.get_signing_serializer(app).loads(cookie_value))


def test_every_cookie_is_httponly_and_samesite_lax(client):
    cookie = _session_cookie_header(client.get("/sign-in"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    responses = [client.post("/language", data={"locale": "en", "next": "/sign-in"}), sign_in_card(client),
                 client.post("/sign-out")]
    cookies = [value for response in responses for value in response.headers.getlist("Set-Cookie")]
    assert len(cookies) >= 3
    for value in cookies:
        assert "HttpOnly" in value and "SameSite=Lax" in value, value


def test_employer_session_is_rotated_at_sign_in_and_cleared_at_sign_out(app, client):
    client.post("/language", data={"locale": "en", "next": "/sign-in"})
    before = client.get_cookie("session").value
    old = _decode(app, before)
    assert "csrf_token" in old and old.get("locale") == "en" and "_user_id" not in old
    assert sign_in_card(client).status_code == 302
    after = _decode(app, client.get_cookie("session").value)
    assert after["_user_id"].startswith("e:") and after.get("sid")
    assert "csrf_token" not in after  # nothing from before survives but the language
    assert after.get("locale") == "en"
    # The cookie planted before sign-in (session fixation) stays anonymous.
    planted = app.test_client()
    planted.set_cookie("session", before)
    assert planted.get("/insurer").headers["Location"].startswith("/sign-in")
    assert client.get("/insurer").status_code == 200
    out = client.post("/sign-out")
    assert out.status_code == 302
    cleared = _decode(app, client.get_cookie("session").value)
    assert set(cleared) <= {"_flashes"}, cleared
    assert client.get("/insurer").headers["Location"].startswith("/sign-in")


def test_staff_session_is_rotated_at_sign_in_and_cleared_at_sign_out(app, client):
    client.get("/staff/sign-in")
    before = client.get_cookie("session").value
    assert sign_in_staff(client, "agent.bak1").status_code == 302
    after = _decode(app, client.get_cookie("session").value)
    assert after["_user_id"].startswith("s:") and after.get("sid") and "csrf_token" not in after
    planted = app.test_client()
    planted.set_cookie("session", before)
    assert "/staff/sign-in" in planted.get("/staff/").headers["Location"]
    assert client.get("/staff/").status_code == 200
    assert client.post("/staff/sign-out").status_code == 302
    cleared = _decode(app, client.get_cookie("session").value)
    assert set(cleared) <= {"_flashes"}, cleared
    assert "/staff/sign-in" in client.get("/staff/").headers["Location"]


def test_two_sign_ins_get_different_session_ids(app):
    ids = []
    for _ in range(2):
        client = app.test_client()
        assert sign_in_card(client).status_code == 302
        ids.append(_decode(app, client.get_cookie("session").value)["sid"])
    assert ids[0] != ids[1]


# ---------------------------------------------------------------- body size


@pytest.mark.parametrize("route,who,kind", [
    ("/staff/sign-in", "anonymous", "form"),
    ("/feedback", "employer", "form"),
    ("/ssh/wizard", "employer", "form"),
    ("/verify", "anonymous", "file"),
    ("/staff/walk-in", "agent", "form"),
    ("/api/v1/verify", "anonymous", "json"),
])
def test_an_oversized_body_gets_the_413_page(app, client, route, who, kind):
    if who == "employer":
        assert sign_in_card(client).status_code == 302
    elif who == "agent":
        assert sign_in_staff(client, "agent.bak1").status_code == 302
    if kind == "json":
        response = client.post(route, data='{"url": "' + BIG + '"}', content_type="application/json")
        assert response.status_code == 413 and response.is_json
        assert response.get_json()["error"] == "too_large"
        return
    if kind == "file":
        # Built here rather than by the test client, whose multipart encoder spools big bodies to a temp file.
        body = (b"--b\r\nContent-Disposition: form-data; name=\"pdf\"; filename=\"a.pdf\"\r\n"
                b"Content-Type: application/pdf\r\n\r\n" + BIG.encode() + b"\r\n--b--\r\n")
        response = client.post(route, data=body, content_type="multipart/form-data; boundary=b")
    else:
        response = client.post(route, data={"message": BIG})
    assert response.status_code == 413
    text = html.unescape(response.get_data(as_text=True))
    assert TOO_LARGE in text and "5 MB" in text
    assert_security_headers(response, route)


# ---------------------------------------------------------------- redirects after an action

OFF_SITE = ["//evil.example", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example",
            "/\r\n/evil.example", "\t//evil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_language_switch_never_redirects_off_the_site(client, target):
    response = client.post("/language", data={"locale": "en", "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/verify", "/staff\\\\x", "/staff\t/x", "/staff\n/x", "//evil.example/staff"])
def test_the_staff_sign_in_never_redirects_off_the_site(client, target):
    response = sign_in_staff_to(client, target)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"


def sign_in_staff_to(client, target: str):
    from tests.staff_support import PASSWORDS, totp_code

    with client.application.app_context():
        code = totp_code(db.session, "agent.bak1")
        db.session.remove()
    return client.post("/staff/sign-in", query_string={"next": target},
                       data={"username": "agent.bak1", "password": PASSWORDS["agent.bak1"], "code": code})
