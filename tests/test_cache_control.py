"""Every response to a signed-in user (employer or staff) is Cache-Control: no-store — pages, htmx fragments,
downloads, redirects and error pages, and the responses that sign in and out — so no FİN or SSN stays in a shared
computer's browser cache after ÇIXIŞ. Static assets stay cacheable; verification results are never cached."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import SEAL_A_ASAN, app_path, sign_in_card, start_asan
from tests.staff_support import sign_in_staff
from tests.test_authorization_matrix import _body, _objects, _sign_in, _url, walks
from tests.test_signing import make_notice, token_of

NO_STORE = "no-store"


def assert_no_store(response, where) -> None:
    assert response.headers.get("Cache-Control") == NO_STORE, (where, response.status_code,
                                                               response.headers.get("Cache-Control"))


@pytest.mark.parametrize("user", ["seal_a", "delegate_ssn", "seal_b", "agent_sum", "admin"])
def test_every_route_answers_a_signed_in_user_with_no_store(app, client, user):
    """Every route and method of the URL map, as a page and as an htmx fragment, from the session the user had right
    after signing in."""
    values = _objects(app)
    values["grant_id"] = _sign_in(app, client, user)
    cookie = client.get_cookie("session")
    statuses = set()
    for endpoint, method, variant, rule in walks(app):
        if endpoint == "static":
            continue
        url = _url(app, endpoint, rule, variant, values)
        for htmx in (False, True):
            client.delete_cookie("session")
            client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
            response = client.open(url, method=method, headers={"HX-Request": "true"} if htmx else {},
                                   **_body(endpoint, variant, values))
            assert response.status_code < 500, (method, url, response.status_code)
            assert_no_store(response, (user, method, url, htmx))
            statuses.add(response.status_code // 100)
            response.close()
    assert statuses >= {2, 3, 4}, statuses


def test_static_assets_stay_cacheable_for_everyone(app, client):
    for signed_in in (False, True):
        if signed_in:
            assert sign_in_card(client).status_code == 302
        for asset in ("/static/css/app.css", "/static/js/htmx.min.js"):
            response = client.get(asset)
            assert response.status_code == 200 and NO_STORE not in response.headers.get("Cache-Control", ""), asset
            response.close()


def test_signing_in_and_out_are_no_store(app, client):
    signed_in = sign_in_card(client)
    assert signed_in.status_code == 302 and "session=" in signed_in.headers.get("Set-Cookie", "")
    assert_no_store(signed_in, "card sign-in")
    signed_out = client.post("/sign-out")
    assert signed_out.status_code == 302
    assert_no_store(signed_out, "sign-out")
    # Signed out: the next page is anyone's again.
    assert client.get("/sign-in").headers.get("Cache-Control") != NO_STORE

    staff = app.test_client()
    response = sign_in_staff(staff, "agent.bak1")
    assert response.status_code == 302
    assert_no_store(response, "staff sign-in")
    assert_no_store(staff.post("/staff/sign-out"), "staff sign-out")


def test_a_sign_in_under_way_is_no_store_here_and_at_the_provider(app, client):
    # The redirect to the national login carries the state and nonce of this browser's sign-in.
    assert_no_store(client.get("/sign-in/national"), "redirect to the provider")
    started = start_asan(client, *SEAL_A_ASAN)
    assert started.status_code == 302
    assert_no_store(started, "asan start")
    waiting = client.get(app_path(started.headers["Location"]))
    assert waiting.status_code == 200 and "verification-code" in waiting.get_data(as_text=True)
    assert_no_store(waiting, "asan wait")
    assert_no_store(client.get(app_path(started.headers["Location"]) + "/status", headers={"HX-Request": "true"}),
                    "status")


def test_error_pages_to_a_signed_in_user_are_no_store(app, client, monkeypatch):
    assert sign_in_card(client).status_code == 302
    assert_no_store(client.get("/no-such-page"), "404")
    assert_no_store(client.get("/sign-out"), "405")
    assert_no_store(client.post("/feedback", csrf=False), "csrf 400")
    assert_no_store(client.get("/static/no-such-file.css"), "static 404")
    monkeypatch.setitem(app.view_functions, "employer.insurer", lambda: 1 / 0)
    assert_no_store(client.get("/insurer"), "500")
    monkeypatch.setitem(app.view_functions, "employer.insurer",
                        lambda: (_ for _ in ()).throw(OperationalError("SELECT 1", {}, Exception("down"))))
    assert_no_store(client.get("/insurer"), "503")


def test_a_public_json_answer_to_a_signed_in_browser_is_no_store_too(app, client):
    """The signing keys are public and cacheable, but not in the signed-in user's cache either way."""
    assert client.get("/.well-known/dost-keys.json").headers["Cache-Control"] == "public, max-age=300"
    assert sign_in_card(client).status_code == 302
    assert_no_store(client.get("/.well-known/dost-keys.json"), "keys")


def test_verification_results_are_never_cached(client, session):
    notice = make_notice(session)
    for response in (client.get(f"/v/{token_of(notice)}"), client.get(f"/v/{token_of(notice)}?more=1"),
                     client.post(f"/v/{token_of(notice)}", data={"date": ""}),
                     client.post("/verify", data={"number": notice.number, "code": notice.verification_code}),
                     client.get("/v/no-such-token")):
        assert response.status_code == 200, response.request.path
        assert_no_store(response, response.request.path)
