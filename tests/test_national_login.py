"""Sign-in at the national login: the app as an OpenID Connect relying party of an independent provider
(panva/oidc-provider on loopback, tests/oidc), for card and Asan İmza certificates, seal holders and delegates,
and every way the exchange can go wrong (a tampered or replayed ID token, a wrong state, a reused code, a refusal
at the provider, claims the app cannot use, a provider that is down or slow)."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from dost.extensions import db
from dost.models import AuditEvent, Credential, CredentialKind, ServiceCode
from dost.services import grants
from tests.conftest import (
    EXPIRED_CARD,
    NO_INSURER_CARD,
    NO_SEAL_A_CARD,
    SEAL_A_CARD,
    build_app,
    sign_in_asan,
    sign_in_card,
)
from tests.national_login_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    TestProvider,
    app_path,
    free_port,
    national_sign_in,
    require_provider,
    through_provider,
)
from tests.test_grants import DELEGATE_A, DELEGATE_A_FIN, actor_for, make_grant


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    require_provider()
    running = TestProvider(tmp_path_factory.mktemp("oidc-provider"))
    running.start()
    yield running
    running.close()


def _relying_party(snapshot, tmp_path, issuer: str, **overrides):
    return build_app(snapshot.app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, DEMO_PROVIDERS=True,
                     OIDC_ISSUER=issuer, OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET=CLIENT_SECRET,
                     OIDC_REDIRECT_URI=REDIRECT_URI, OIDC_TIMEOUT_SECONDS=2, **overrides)


@pytest.fixture
def national_app(app, snapshot, provider, tmp_path):
    """The app configured as the provider's client, on the test's fresh copy of the demo data."""
    provider.reset()
    relying_party = _relying_party(snapshot, tmp_path, provider.issuer)
    yield relying_party
    provider.reset()
    with relying_party.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def rp(national_app):
    return national_app.test_client()


def _events(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _signed_in(client) -> bool:
    return client.get("/insurer").status_code == 200


def _assert_refused(response, session, words: str, status: int = 400) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:800]
    assert words in body
    assert "Xidmətə giriş alınmadı" in body
    assert _events(session, "session.sign_in_failed"), "a failed sign-in is audited"


# ---------------------------------------------------------------- the journeys, at both providers

# The demo identity provider's way to each account of the independent provider (the same people and certificates).
DEMO_ACCOUNTS = {
    "card-seal-a": ("card", SEAL_A_CARD),
    "asan-seal-b": ("asan", ("+994552345678", "200001")),
    "card-delegate-a": ("card", NO_SEAL_A_CARD),
    "asan-delegate-b": ("asan", ("+994703456789", "200002")),
    "expired": ("card", EXPIRED_CARD),
    "no-insurer": ("card", NO_INSURER_CARD),
}


class Journey:
    """A browser signing in at one provider: the independent oidc-provider or the demo identity provider."""

    def __init__(self, name: str, client, end_session: str):
        self.name = name
        self.client = client
        self.end_session = end_session

    def sign_in(self, account: str):
        """The whole sign-in as the account; returns the app's callback response."""
        if self.name == "independent":
            return national_sign_in(self.client, account)
        kind, secret = DEMO_ACCOUNTS[account]
        return sign_in_card(self.client, secret) if kind == "card" else sign_in_asan(self.client, secret)


@pytest.fixture(params=["independent", "demo"])
def journey(request, snapshot, tmp_path) -> Journey:
    """The same journeys against both providers (the demo one passes what the independent one does)."""
    if request.param == "independent":
        request.getfixturevalue("national_app")
        provider = request.getfixturevalue("provider")
        return Journey("independent", request.getfixturevalue("rp"), f"{provider.issuer}/session/end")
    app = request.getfixturevalue("app")
    return Journey("demo", app.test_client(), f"{app.config['DEMO_IDP_ISSUER']}/session/end")


def test_a_seal_holder_signs_in_with_a_card(journey, session):
    response = journey.sign_in("card-seal-a")
    assert response.status_code == 302 and response.headers["Location"].endswith("/insurer")
    assert "MƏKTƏBİ QURUP" in journey.client.get("/insurer").get_data(as_text=True)
    sign_in = _events(session, "session.sign_in")[-1]
    assert sign_in.changes == {"method": "national:card"} and sign_in.authority == "seal"


def test_an_asan_imza_seal_holder_signs_in(journey, session):
    response = journey.sign_in("asan-seal-b")
    assert response.status_code == 302
    assert "ŞİRVAN ÇAY" in journey.client.get("/insurer").get_data(as_text=True)
    assert _events(session, "session.sign_in")[-1].changes == {"method": "national:asan"}


@pytest.mark.parametrize("account,mobile", [("card-delegate-a", None), ("asan-delegate-b", "+994703456789")])
def test_a_delegate_gets_exactly_its_granted_services_and_revocation_ends_them(journey, session, account, mobile):
    if mobile:
        grant = make_grant(session, granter="2000000001", card=None, mobile=mobile, fin="7HT5N1K")
    else:
        grant = make_grant(session, card=DELEGATE_A, fin=DELEGATE_A_FIN, service=ServiceCode.SSN_CERTIFICATE)
    response = journey.sign_in(account)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    client = journey.client
    assert client.get("/ssh/").status_code == 200
    # Granting is the seal holder's: the delegate has no such service.
    assert client.get("/grants/registry").status_code == 403
    assert _events(session, "session.sign_in")[-1].authority == "delegate"

    grants.revoke_grant(session, actor_for(session, "2000000001" if mobile else "1000000001"), grant.id)
    session.commit()
    after = client.get("/ssh/")
    assert after.status_code == 302 and "/sign-in" in after.headers["Location"]


def test_a_credential_without_seal_authority_or_grant_is_refused(journey, session):
    response = journey.sign_in("asan-delegate-b")
    _assert_refused(response, session, "möhür vurmaq səlahiyyəti olan e-imza")
    assert not _signed_in(journey.client)


def test_an_expired_certificate_is_refused(journey, session):
    response = journey.sign_in("expired")
    _assert_refused(response, session, "etibarlılıq müddəti")
    assert not _signed_in(journey.client)


def test_a_certificate_acting_for_several_insurers_chooses_one(journey, session):
    # Insurer B's seal holder delegates a service to insurer A's seal holder's card.
    make_grant(session, granter="2000000001", card="1000000001", fin="5ZK4R9P")
    response = journey.sign_in("card-seal-a")
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-in/insurer")
    page = journey.client.get("/sign-in/insurer").get_data(as_text=True)
    assert "MƏKTƏBİ QURUP" in page and "ŞİRVAN ÇAY" in page


def test_sign_out_ends_the_session_here_and_at_the_provider(journey, session):
    client = journey.client
    journey.sign_in("card-seal-a")
    kept_cookie = client.get_cookie("session").value
    response = client.post("/sign-out")
    assert response.status_code == 302
    logout = urlsplit(response.headers["Location"])
    assert f"{logout.scheme}://{logout.netloc}{logout.path}" == journey.end_session
    query = parse_qs(logout.query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/sign-in"] and query["id_token_hint"][0]
    assert query["client_id"][0]
    assert not _signed_in(client)
    # A copy of the old cookie is no good either.
    client.set_cookie("session", kept_cookie)
    assert not _signed_in(client)
    assert _events(session, "session.sign_out")


# ---------------------------------------------------------------- what only the independent provider shows


def test_the_authorization_request_carries_pkce_state_and_nonce(rp, session, provider):
    start = rp.get("/sign-in/national")
    assert start.status_code == 302
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert start.headers["Location"].startswith(provider.issuer + "/auth?")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["scope"] == ["openid user certificate"]
    response = rp.get(app_path(through_provider(start.headers["Location"], "card-seal-a")))
    assert response.status_code == 302 and response.headers["Location"].endswith("/insurer")


def test_the_provider_accepts_the_apps_logout_request(rp, provider):
    national_sign_in(rp, "card-seal-a")
    response = rp.post("/sign-out")
    # The provider's own confirmation page follows: it accepted the hint, the client and the return address.
    assert requests.get(response.headers["Location"], timeout=10).status_code == 200


def test_the_credential_follows_what_the_provider_says_and_the_change_is_audited(rp, session):
    national_sign_in(rp, "card-seal-a")
    credential = session.scalar(select(Credential).where(Credential.card_number == "1000000001"))
    assert (credential.valid_from, credential.valid_until) == (date(2025, 6, 1), date(2030, 6, 30))
    change = _events(session, "credential.updated")[-1]
    assert change.object_id == credential.id and change.actor_label == "sistem: milli giriş"
    assert change.changes["valid_from"]["to"] == "2025-06-01"
    # Signing in again changes nothing, so records nothing.
    rp.post("/sign-out")
    national_sign_in(rp, "card-seal-a")
    assert len(_events(session, "credential.updated")) == 1


def test_a_certificate_seen_for_the_first_time_is_registered_with_its_seal_authority(rp, session):
    response = national_sign_in(rp, "new-card-seal-c")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    credential = session.scalar(select(Credential).where(Credential.card_number == "3000000077"))
    assert credential.fin == "2BC7D4F" and credential.holder_name == "ÜLVİ ÇƏLƏBİYEV RÖVŞƏN OĞLU"
    assert credential.seal_insurer.voen == "2600417342"
    assert _events(session, "credential.registered")[-1].object_id == credential.id
    assert "ÇƏLƏBİYEV" in rp.get("/insurer").get_data(as_text=True)


def test_a_sima_certificate_signs_in_and_is_registered_as_one(rp, session):
    response = national_sign_in(rp, "new-sima-seal-c")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    credential = session.scalar(select(Credential).where(Credential.mobile_number == "+994505550077"))
    assert credential.kind == CredentialKind.SIMA and credential.seal_insurer.voen == "2600417342"
    assert _events(session, "session.sign_in")[-1].changes == {"method": "national:sima"}


def test_the_pages_let_forms_lead_to_the_provider_and_nowhere_else(rp, provider):
    # ÇIXIŞ posts a form whose answer redirects to the provider: browsers check that redirect against form-action.
    policy = rp.get("/sign-in").headers["Content-Security-Policy"]
    assert f"form-action 'self' {provider.issuer};" in policy


def test_the_app_itself_never_asks_for_a_pin_or_user_id(rp):
    page = rp.get("/sign-in").get_data(as_text=True)
    assert "Milli giriş sistemi ilə daxil olmaq" in page and 'name="pin"' not in page
    assert rp.post("/sign-in/card", data={"card_number": "1000000001", "pin": "1111"}).status_code == 404
    assert rp.post("/sign-in/asan", data={"mobile_number": "+994501234567", "asan_user_id": "100001"}).status_code \
        == 404


# ---------------------------------------------------------------- keys: cached, refreshed on rotation


def test_the_providers_keys_are_fetched_once_and_again_only_after_a_rotation(rp, provider):
    national_sign_in(rp, "card-seal-a")
    rp.post("/sign-out")
    national_sign_in(rp, "asan-seal-b")
    assert provider.proxy.requests["/jwks"] == 1
    assert provider.proxy.requests["/.well-known/openid-configuration"] == 1
    rp.post("/sign-out")

    provider.rotate_key()
    response = national_sign_in(rp, "card-seal-a")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert provider.proxy.requests["/jwks"] == 2


# ---------------------------------------------------------------- an ID token that must not be believed


@pytest.mark.parametrize("tampering", ["signature", "aud", "iss", "expired", "nonce"])
def test_a_tampered_id_token_is_refused(rp, session, provider, tampering):
    provider.proxy.mode = tampering
    response = national_sign_in(rp, "card-seal-a")
    _assert_refused(response, session, "yoxlamadan keçmədi")
    assert not _signed_in(rp)


def test_an_id_token_replayed_from_an_earlier_sign_in_is_refused(rp, session, provider):
    national_sign_in(rp, "card-seal-a")
    rp.post("/sign-out")
    provider.proxy.mode = "replay"
    response = national_sign_in(rp, "card-seal-a")
    _assert_refused(response, session, "yoxlamadan keçmədi")
    assert not _signed_in(rp)


def test_userinfo_about_someone_else_is_refused(rp, session, provider):
    provider.proxy.mode = "sub"
    response = national_sign_in(rp, "card-seal-a")
    _assert_refused(response, session, "yoxlamadan keçmədi")


def test_a_state_that_does_not_match_is_refused(rp, session):
    start = rp.get("/sign-in/national")
    callback = through_provider(start.headers["Location"], "card-seal-a")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    _assert_refused(rp.get(app_path(forged)), session, "yoxlamadan keçmədi")
    assert not _signed_in(rp)


def test_a_code_used_twice_is_refused(rp, national_app, session):
    start = rp.get("/sign-in/national")
    cookie_before = rp.get_cookie("session").value
    callback = app_path(through_provider(start.headers["Location"], "card-seal-a"))
    assert rp.get(callback).status_code == 302
    # Someone with the same browser state (a copied cookie) sends the same code again.
    other = national_app.test_client()
    other.set_cookie("session", cookie_before)
    _assert_refused(other.get(callback), session, "yoxlamadan keçmədi")
    assert not _signed_in(other)


def test_a_refusal_at_the_provider_is_told_and_can_be_retried(rp, session):
    start = rp.get("/sign-in/national")
    response = rp.get(app_path(through_provider(start.headers["Location"], "card-seal-a", cancel=True)))
    _assert_refused(response, session, "Giriş milli giriş sistemində dayandırıldı", status=403)
    assert 'href="/sign-in/national"' in response.get_data(as_text=True)
    assert _events(session, "session.sign_in_failed")[-1].changes["reason"] == "access_denied"


def test_a_callback_without_any_sign_in_is_refused(rp, session):
    _assert_refused(rp.get("/sign-in/callback?code=x&state=y"), session, "yoxlamadan keçmədi")
    _assert_refused(rp.get("/sign-in/callback"), session, "yoxlamadan keçmədi")


# ---------------------------------------------------------------- claims the app cannot use


@pytest.mark.parametrize(("account", "words", "status"), [
    ("unknown-fin", "əhali reyestrində tapılmadı", 400),
    ("unknown-voen", "VÖEN (1999999991) üzrə sığortaedən DSMF-də qeydiyyatda deyil", 400),
    ("no-fin", "natamam və ya yanlış formatda göndərdi (fin)", 400),
    ("bad-dates", "(certificate.valid_until)", 400),
    ("two-seals", "(seal)", 400),
    ("unknown-kind", "(certificate.kind)", 400),
])
def test_claims_the_app_cannot_use_are_refused_with_a_clear_page(rp, session, account, words, status):
    before = session.scalar(select(db.func.count()).select_from(Credential))
    response = national_sign_in(rp, account)
    _assert_refused(response, session, words, status=status)
    assert not _signed_in(rp)
    assert session.scalar(select(db.func.count()).select_from(Credential)) == before


# ---------------------------------------------------------------- a provider that is down, slow or not itself


def test_a_provider_that_is_down_gives_a_page_saying_so(app, snapshot, tmp_path, session):
    down = _relying_party(snapshot, tmp_path, f"http://127.0.0.1:{free_port()}")
    try:
        response = down.test_client().get("/sign-in/national")
        _assert_refused(response, session, "hazırda cavab vermir", status=503)
    finally:
        with down.app_context():
            db.engine.dispose()


def test_a_provider_that_does_not_answer_in_time_gives_a_page_saying_so(rp, session, provider):
    provider.proxy.mode = "stall"
    provider.proxy.stall_seconds = 4
    _assert_refused(rp.get("/sign-in/national"), session, "hazırda cavab vermir", status=503)


def test_a_discovery_document_of_another_issuer_is_refused(app, snapshot, tmp_path, session, provider):
    provider.reset()
    impostor = _relying_party(snapshot, tmp_path, provider.issuer.replace("127.0.0.1", "localhost"))
    try:
        response = impostor.test_client().get("/sign-in/national")
        _assert_refused(response, session, "yoxlamadan keçmədi")
    finally:
        with impostor.app_context():
            db.engine.dispose()
