"""CSRF: every state-changing route of the URL map refuses a request without a valid token (the 400 page), except
the two JSON APIs, which carry no cookie's authority; htmx sends the page's token from <body hx-headers>."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from flask import Flask, url_for
from sqlalchemy import func, select

from dost.extensions import db
from dost.models import AuditEvent, Feedback, Notification, VerificationCheck
from tests.conftest import CSRF_META, sign_in_card
from tests.staff_support import sign_in_staff

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_MESSAGE = "Formanın müddəti bitib və ya təhlükəsizlik nişanı yoxdur."
# The CSRF-exempt routes, and why: both are JSON APIs for programs. /api/v1/authorizations answers only to a
# Bearer token (its other methods only say 405); /api/v1/verify is a public, anonymous check. A forged cross-site
# request gains nothing from the victim's cookies on either, because neither reads who is signed in.
EXEMPT = {
    ("api.authorizations_other_methods", "POST"),
    ("api.authorizations_other_methods", "PUT"),
    ("api.authorizations_other_methods", "PATCH"),
    ("api.authorizations_other_methods", "DELETE"),
    ("verify.verify_api.api_verify", "POST"),
    ("verify.verify_api.api_verify_other_methods", "PUT"),
    ("verify.verify_api.api_verify_other_methods", "PATCH"),
    ("verify.verify_api.api_verify_other_methods", "DELETE"),
}
# Exempt for anonymous visitors only: choosing the language sets nothing but this browser's language (so the
# public verification pages need no session); a signed-in user's choice is stored and needs the token.
EXEMPT_ANONYMOUS = {("pages.language", "POST")}
TEMPLATES = Path(__file__).resolve().parent.parent / "dost" / "templates"


def unsafe_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every state-changing route; URL parameters get placeholder ids."""
    routes = []
    for rule in app.url_map.iter_rules():
        params = {name: ("verify" if name == "action" else "x" if name in ("token", "filename") else 1)
                  for name in rule.arguments}
        with app.test_request_context():
            url = url_for(rule.endpoint, **params)
        routes.extend((rule.endpoint, method, url) for method in sorted(rule.methods & UNSAFE))
    return sorted(routes)


def _refused_for_csrf(response) -> bool:
    return response.status_code == 400 and CSRF_MESSAGE in html.unescape(response.get_data(as_text=True))


def _counts(app: Flask) -> tuple[int, ...]:
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (AuditEvent, Feedback, Notification))


@pytest.fixture
def employer_client(app):
    client = app.test_client()
    assert sign_in_card(client).status_code == 302
    return client


@pytest.fixture
def admin_client(app):
    client = app.test_client()
    assert sign_in_staff(client, "admin").status_code == 302
    return client


def test_the_route_list_is_complete(app):
    routes = unsafe_routes(app)
    assert len(routes) >= 35
    assert {(endpoint, method) for endpoint, method, _ in routes} >= EXEMPT


@pytest.mark.parametrize("who", ["anonymous", "employer", "staff"])
def test_every_state_changing_route_refuses_a_request_without_a_token(app, who, request):
    client = {"anonymous": app.test_client, "employer": lambda: request.getfixturevalue("employer_client"),
              "staff": lambda: request.getfixturevalue("admin_client")}[who]()
    before = _counts(app)
    not_refused = []
    for endpoint, method, url in unsafe_routes(app):
        # A cross-site form: plausible fields, the victim's cookies, no token.
        response = client.open(url, method=method, csrf=False,
                               data={"message": "x", "subject": "x", "contact": "x"})
        if not _refused_for_csrf(response):
            not_refused.append((endpoint, method))
        else:
            assert response.headers["Content-Type"].startswith("text/html")
    expected = EXEMPT | (EXEMPT_ANONYMOUS if who == "anonymous" else set())
    assert set(not_refused) == expected, sorted(set(not_refused) ^ expected)
    # Nothing was written by any refused request (the exempt ones above only answer 405/415 here).
    assert _counts(app) == before


@pytest.mark.parametrize("token", ["", "bogus", "IjEyMyI.aaaa.bbbb"])
def test_a_wrong_or_empty_token_is_refused_in_the_header_and_in_the_form(employer_client, token):
    for kwargs in ({"headers": {"X-CSRFToken": token}}, {"data": {"csrf_token": token, "message": "x"}}):
        response = employer_client.post("/feedback", csrf=False, **kwargs)
        assert _refused_for_csrf(response), kwargs


def test_a_token_from_another_session_is_refused(app, employer_client):
    stranger = app.test_client()
    foreign = stranger.csrf_token()
    response = employer_client.post("/inbox/read-all", csrf=False, headers={"X-CSRFToken": foreign})
    assert _refused_for_csrf(response)
    assert employer_client.post("/inbox/read-all").status_code == 302  # its own token works


def test_htmx_sends_the_token_of_the_page_from_body_hx_headers(employer_client):
    page = employer_client.get("/inbox/").get_data(as_text=True)
    meta = CSRF_META.search(page).group(1)
    body = re.search(r"<body hx-headers='([^']+)'>", page)
    assert body, "base.html: <body hx-headers> carries the CSRF header for every htmx request"
    headers = json.loads(html.unescape(body.group(1)))
    assert headers == {"X-CSRFToken": meta}
    # What htmx sends: HX-Request and the inherited header; no form field.
    response = employer_client.post("/inbox/read-all", csrf=False, headers={"HX-Request": "true", **headers})
    assert response.status_code == 200 and 'id="inbox-list"' in response.get_data(as_text=True)
    refused = employer_client.post("/inbox/read-all", csrf=False, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    # htmx gets the error fragment retargeted to the page's alert region.
    assert refused.headers["HX-Retarget"] == "#flash-region" and CSRF_MESSAGE in html.unescape(refused.get_data(
        as_text=True))


def test_every_post_form_in_the_templates_carries_the_token():
    forms = 0
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", text, re.S | re.I):
            attributes, body = match.groups()
            if not re.search(r'method="post"|hx-post=', attributes, re.I):
                continue
            forms += 1
            assert "csrf_token" in body, f"{path.relative_to(TEMPLATES)}: a POST form without csrf_token"
    assert forms >= 20


def test_the_verification_api_ignores_the_session_cookie_and_sets_none(app, employer_client):
    body = {"number": "DSMF-2026-0000001", "code": "ABCD-EFGH"}
    anonymous = app.test_client().post("/api/v1/verify", json=body, csrf=False)
    signed_in = employer_client.post("/api/v1/verify", json=body, csrf=False)
    assert anonymous.status_code == signed_in.status_code == 200
    assert anonymous.get_json() == signed_in.get_json()
    assert "Set-Cookie" not in signed_in.headers and "Set-Cookie" not in anonymous.headers
    with app.app_context():
        checks = db.session.scalars(select(VerificationCheck)).all()
    # The check is logged the same way for both: nothing ties it to the signed-in employer.
    assert len(checks) == 2
    columns = [c.name for c in VerificationCheck.__table__.columns]
    assert not {"credential_id", "insurer_id", "staff_user_id"} & set(columns)


def test_the_authorization_api_answers_only_to_a_bearer_token(employer_client, admin_client):
    query = "/api/v1/authorizations?voen=9802091761&service=ssn_certificate&fin=5ZK4R9P"
    for client in (employer_client, admin_client):
        response = client.get(query)
        assert response.status_code == 401 and response.is_json
        assert "Set-Cookie" not in response.headers
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            other = client.open(query, method=method, csrf=False)
            assert other.status_code == 405 and other.is_json
