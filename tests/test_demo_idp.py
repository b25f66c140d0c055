"""The demo identity provider (dost.demo_idp) as `make run` serves it: mounted beside the app on one real HTTP
server (tests.conftest.build_app serves it on a loopback port), the app its registered client. Its people are the
demo data's e-signatures; each test walks its screens as a browser would (card + PIN, Asan İmza with the simulated
phone) and checks what a relying party may rely on: discovery, keys, PKCE (S256 only, required), registered
redirect URIs only, codes used once, RP-initiated logout."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import select

from dost.extensions import db
from dost.models import AuditEvent, ServiceCode
from tests.conftest import build_app
from tests.test_grants import DELEGATE_A, DELEGATE_A_FIN, make_grant

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
TOKEN = re.compile(r'name="token" value="([^"]+)"')


class Served:
    """The app with the provider mounted at /demo-idp, as build_app serves it on a loopback port."""

    def __init__(self, app):
        self.app = app
        self.issuer = app.config["DEMO_IDP_ISSUER"]
        self.base = self.issuer.removesuffix("/demo-idp")


@pytest.fixture
def served(app, snapshot, tmp_path):
    # The callback URL as `make run` builds it: from the host the browser came to.
    served_app = build_app(snapshot.app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, OIDC_REDIRECT_URI="")
    yield Served(served_app)
    with served_app.app_context():
        db.session.remove()
        db.engine.dispose()
    from dost.demo_idp.models import idp_db

    with served_app.extensions["demo_idp"].app_context():
        idp_db.engine.dispose()


def _csrf(page: str) -> str:
    match = CSRF.search(page)
    assert match, page[:1000]
    return match.group(1) or match.group(2)


def _at_provider(browser: requests.Session, served: Served, method: str = "card") -> requests.Response:
    """From the app's sign-in button to the provider's sign-in screen."""
    page = browser.get(f"{served.base}/sign-in/national", timeout=10)
    assert page.url.startswith(f"{served.issuer}/authorize?"), page.url
    if method == "asan":
        page = browser.get(page.url + "&method=asan", timeout=10)
    return page


def sign_in_with_card(browser: requests.Session, served: Served, card: str, pin: str) -> requests.Response:
    page = _at_provider(browser, served)
    return browser.post(page.url, data={"csrf_token": _csrf(page.text), "action": "card", "card_number": card,
                                        "pin": pin}, timeout=10)


def sign_in_with_asan(browser: requests.Session, served: Served, mobile: str, user_id: str) -> requests.Response:
    page = _at_provider(browser, served, "asan")
    waiting = browser.post(page.url, data={"csrf_token": _csrf(page.text), "action": "asan", "mobile_number": mobile,
                                           "asan_user_id": user_id}, timeout=10)
    assert waiting.status_code == 200 and "/asan/" in waiting.url, waiting.text[:500]
    code = re.search(r'class="verification-code"[^>]*>(\d{4})<', waiting.text).group(1)
    # The holder's phone, elsewhere: a browser of its own.
    phone = requests.Session()
    panel = phone.get(f"{served.issuer}/asan-phone", params={"mobile": mobile}, timeout=10)
    assert code in panel.text
    confirmed = phone.post(f"{served.issuer}/asan-phone", data={
        "csrf_token": _csrf(panel.text), "token": TOKEN.search(panel.text).group(1), "mobile": mobile}, timeout=10)
    assert "Sorğu təsdiqləndi" in confirmed.text
    return browser.get(waiting.url + "/status", timeout=10)


def test_discovery_and_keys_are_those_of_an_openid_provider(served):
    document = requests.get(f"{served.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert document["issuer"] == served.issuer
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    keys = requests.get(document["jwks_uri"], timeout=10).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["kid"] and "d" not in keys[0]


def test_a_seal_holder_signs_in_with_a_card_through_the_demo_provider(served, session):
    browser = requests.Session()
    page = sign_in_with_card(browser, served, "1000000001", "1111")
    assert page.url == f"{served.base}/insurer", page.text[:800]
    assert "MƏKTƏBİ QURUP" in page.text
    sign_in = session.scalars(select(AuditEvent).where(AuditEvent.action == "session.sign_in")).all()[-1]
    assert sign_in.changes == {"method": "national:card"}


def test_a_seal_holder_signs_in_with_asan_imza_confirmed_on_the_demo_phone(served):
    browser = requests.Session()
    page = sign_in_with_asan(browser, served, "+994552345678", "200001")
    assert page.url == f"{served.base}/insurer", page.text[:800]
    assert "ŞİRVAN ÇAY" in page.text


def test_a_delegate_signs_in_with_exactly_its_grant(served, session):
    make_grant(session, card=DELEGATE_A, fin=DELEGATE_A_FIN, service=ServiceCode.SSN_CERTIFICATE)
    browser = requests.Session()
    assert sign_in_with_card(browser, served, DELEGATE_A, "2222").url == f"{served.base}/insurer"
    assert browser.get(f"{served.base}/ssh/", timeout=10).status_code == 200
    assert browser.get(f"{served.base}/grants/registry", timeout=10, allow_redirects=False).status_code == 403


@pytest.mark.parametrize(("card", "pin", "words"), [
    ("9000000001", "6666", "etibarlılıq müddəti"),
    ("9000000002", "7777", "möhür vurmaq səlahiyyəti olan e-imza"),
])
def test_the_apps_rules_refuse_an_expired_or_unauthorised_certificate(served, card, pin, words):
    page = sign_in_with_card(requests.Session(), served, card, pin)
    assert page.status_code == 400 and page.url.startswith(f"{served.base}/sign-in/callback")
    assert words in page.text


def test_a_wrong_pin_stays_at_the_provider_with_one_answer_for_unknown_cards(served):
    browser = requests.Session()
    wrong = sign_in_with_card(browser, served, "1000000001", "9999")
    unknown = sign_in_with_card(browser, served, "1234567890", "1111")
    for page in (wrong, unknown):
        assert page.status_code == 400 and page.url.startswith(f"{served.issuer}/authorize")
        assert "Kartın nömrəsi və ya PIN kod yanlışdır." in page.text
    assert "/sign-in" in browser.get(f"{served.base}/insurer", timeout=10).url


def test_cancelling_at_the_provider_comes_back_as_access_denied(served):
    browser = requests.Session()
    page = _at_provider(browser, served)
    back = browser.post(page.url, data={"csrf_token": _csrf(page.text), "action": "cancel"}, timeout=10)
    assert back.status_code == 403 and "Giriş milli giriş sistemində dayandırıldı" in back.text


def _authorize_params(served: Served, **changes) -> dict:
    params = {"response_type": "code", "client_id": "dost-ssh-demo", "scope": "openid user certificate",
              "redirect_uri": f"{served.base}/sign-in/callback", "state": "s", "nonce": "n",
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}
    params.update(changes)
    return {key: value for key, value in params.items() if value is not None}


@pytest.mark.parametrize("changes", [
    {"code_challenge": None, "code_challenge_method": None},
    {"code_challenge_method": "plain"},
    {"redirect_uri": "http://evil.example/sign-in/callback"},
    {"client_id": "someone-else"},
    {"response_type": "token"},
])
def test_requests_a_provider_must_not_serve_are_refused_on_its_own_page(served, changes):
    page = requests.get(f"{served.issuer}/authorize?" + urlencode(_authorize_params(served, **changes)),
                        allow_redirects=False, timeout=10)
    if page.status_code == 302:
        # Refusals the client may hear about go back to its registered URI, never to another.
        location = urlsplit(page.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{served.base}/sign-in/callback"
        assert parse_qs(location.query)["error"]
    else:
        assert page.status_code == 400


def test_a_code_is_good_once(served):
    browser = requests.Session()
    page = _at_provider(browser, served)
    cookies_before = browser.cookies.copy()
    answer = browser.post(page.url, data={"csrf_token": _csrf(page.text), "action": "card",
                                          "card_number": "1000000001", "pin": "1111"}, allow_redirects=False,
                          timeout=10)
    callback = answer.headers["Location"]
    assert browser.get(callback, timeout=10).url == f"{served.base}/insurer"
    replay = requests.Session()
    replay.cookies.update(cookies_before)
    again = replay.get(callback, timeout=10)
    assert again.status_code == 400 and "yoxlamadan keçmədi" in again.text


def test_sign_out_ends_the_session_at_the_provider_too_and_comes_back(served):
    browser = requests.Session()
    page = sign_in_with_card(browser, served, "1000000001", "1111")
    out = browser.post(f"{served.base}/sign-out", data={"csrf_token": _csrf(page.text)}, allow_redirects=False,
                       timeout=10)
    assert out.headers["Location"].startswith(f"{served.issuer}/session/end?")
    landed = browser.get(out.headers["Location"], timeout=10)
    assert landed.url.startswith(f"{served.base}/sign-in") and "Siz xidmətdən çıxdınız." in landed.text
    assert browser.get(f"{served.base}/insurer", timeout=10).url.startswith(f"{served.base}/sign-in")


def test_the_signing_back_channel_answers_its_registered_client_only(served):
    card_url, asan_url = f"{served.issuer}/signing/card", f"{served.issuer}/signing/asan"
    card = {"card_number": "1000000001", "pin": "1111"}
    client = ("dost-ssh-demo", served.app.config["OIDC_CLIENT_SECRET"])
    assert requests.post(card_url, data=card, timeout=10).status_code == 401
    assert requests.post(card_url, data=card, auth=("dost-ssh-demo", "wrong"), timeout=10).status_code == 401
    signed = requests.post(card_url, data=card, auth=client, timeout=10)
    assert signed.status_code == 200 and signed.json()["card_number"] == "1000000001"
    wrong = requests.post(card_url, data={**card, "pin": "9999"}, auth=client, timeout=10)
    assert wrong.status_code == 403 and wrong.json() == {"error": "wrong_secret"}

    started = requests.post(asan_url, data={"mobile_number": "+994501234567"}, auth=client, timeout=10).json()
    state_url = f"{asan_url}/{started['token']}"
    assert requests.get(state_url, auth=client, timeout=10).json() == {"state": "pending"}
    phone = requests.Session()
    panel = phone.get(f"{served.issuer}/asan-phone", params={"mobile": "+994501234567"}, timeout=10)
    assert "Sənədin imzalanması" in panel.text and started["verification_code"] in panel.text
    phone.post(f"{served.issuer}/asan-phone", data={"csrf_token": _csrf(panel.text), "token": started["token"],
                                                     "mobile": "+994501234567"}, timeout=10)
    # Confirmed once: the first poll that sees it uses it.
    assert requests.get(state_url, auth=client, timeout=10).json() == {"state": "confirmed",
                                                                       "mobile_number": "+994501234567"}
    assert requests.get(state_url, auth=client, timeout=10).json() == {"state": "unknown"}
    assert requests.get(state_url, timeout=10).status_code == 401


def test_the_back_channel_to_the_provider_on_the_same_server_needs_no_free_worker(app, snapshot, tmp_path):
    """Mounted beside the app, the provider answers the app's token and signing calls in-process: nothing listens at
    its address here, as if every worker of the server were busy, and signing in and signing still work."""
    from dost import create_app
    from tests.conftest import CsrfClient, free_port, sign_in_card

    port = free_port()  # and nothing serves it
    alone = create_app({**{key: snapshot.app.config[key] for key in (
        "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "AUDIT_KEY", "AUDIT_CHECKPOINT_FILE")},
        "TESTING": True, "DEMO_PROVIDERS": True, "DEMO_IDP_ISSUER": f"http://127.0.0.1:{port}/demo-idp",
        "DEMO_IDP_DIRECTORY": str(tmp_path), "OIDC_REDIRECT_URI": "http://localhost/sign-in/callback",
        "SIGN_IN_RATE_LIMIT": "1000 per minute"})
    alone.test_client_class = CsrfClient
    try:
        client = alone.test_client()
        response = sign_in_card(client)
        assert response.status_code == 302 and response.location.endswith("/insurer")
        with alone.app_context():
            from dost.extensions import db
            from dost.models import Credential
            from dost.services import signin

            credential = db.session.scalar(select(Credential).where(Credential.card_number == "1000000001"))
            signin.check_signer_pin(db.session, credential, "1111")
            db.session.remove()
    finally:
        with alone.app_context():
            db.engine.dispose()
