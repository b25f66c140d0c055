"""Employer sign-in as the suite's app does it: at the national login, here the demo identity provider mounted at
/demo-idp (card + PIN, Asan İmza with its phone), then the app's rules; bad input at the provider, rate limits,
session rotation, sign-out."""

import html
import re

import pytest
from sqlalchemy import func, select

from dost.models import AuditEvent, Insurer
from tests.conftest import (
    EXPIRED_CARD,
    NO_INSURER_CARD,
    NO_SEAL_A_CARD,
    SEAL_A_ASAN,
    SEAL_A_CARD,
    app_path,
    provider_page,
    sign_in_asan,
    sign_in_card,
    start_asan,
)


def test_sign_in_page_leads_to_the_national_login_in_azerbaijani(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'lang="az"' in page
    assert "Milli giriş sistemi ilə daxil olmaq" in page and 'href="/sign-in/national"' in page
    # The e-signature's secrets are typed at the provider only, never on the app's pages.
    assert 'name="pin"' not in page and 'name="card_number"' not in page


def test_the_provider_offers_both_methods_in_the_language_the_app_asked_for(client):
    page = provider_page(client).get_data(as_text=True)
    assert 'lang="az"' in page
    assert "Elektron imza ilə daxil olmaq" in page and "Asan imza ilə daxil olmaq" in page
    client.post("/language", data={"locale": "en", "next": "/sign-in"})
    assert 'lang="en"' in provider_page(client).get_data(as_text=True)


def test_card_sign_in_opens_the_insurer_page(client):
    response = sign_in_card(client, SEAL_A_CARD)
    assert response.status_code == 302 and response.location.endswith("/insurer")
    page = html.unescape(client.get("/insurer").get_data(as_text=True))
    for text in ('"MƏKTƏBİ QURUP" MƏDƏNİYYƏT MƏRKƏZİ', "Hüquqi şəxs", "9819854215", "9802091761",
                 "SƏMİR QƏLƏYEV NƏZƏR QƏLƏYEV", "188", "Bakı şəhəri üzrə hüquqi şəxslərlə iş"):
        assert text in page
    assert "Sığortaedənin məlumatları" in page


def test_insurer_page_requires_sign_in(client):
    response = client.get("/insurer")
    assert response.status_code == 302 and "/sign-in" in response.location


BAD_CARD_INPUT = [
    ({"card_number": "", "pin": "1111"}, {"card_number": "Kartın nömrəsini daxil edin."}),
    ({"card_number": "1000000001", "pin": ""}, {"pin": "PIN kodu daxil edin."}),
    ({"card_number": "", "pin": ""}, {"card_number": "Kartın nömrəsini daxil edin.", "pin": "PIN kodu daxil edin."}),
    ({"card_number": "1" * 10_000, "pin": "1111"}, {"card_number": "çox uzundur"}),
    ({"card_number": "1000000001", "pin": "9" * 10_000}, {"pin": "çox uzundur"}),
    ({"card_number": "abc", "pin": "12"}, {"card_number": "8–16 rəqəm", "pin": "4–8 rəqəm"}),
    # An unknown card and a wrong PIN get one answer: card numbers cannot be probed.
    ({"card_number": "1234567890", "pin": "1111"}, {"pin": "Kartın nömrəsi və ya PIN kod yanlışdır."}),
    ({"card_number": "1000000001", "pin": "9999"}, {"pin": "Kartın nömrəsi və ya PIN kod yanlışdır."}),
]


@pytest.mark.parametrize("data,errors", BAD_CARD_INPUT)
def test_bad_card_input_gets_every_message_beside_its_field_at_the_provider(client, data, errors):
    response = sign_in_card(client, (data["card_number"], data["pin"]))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field, message in errors.items():
        error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page, re.S)
        assert error, page[:2000]
        assert message in error.group(1)
        assert f'id="{field}"' in page and 'aria-invalid="true"' in page
    # The PIN is never sent back.
    assert 'value="9999"' not in page and 'value="1111"' not in page


@pytest.mark.parametrize("card,words", [
    (EXPIRED_CARD, "etibarlılıq müddəti"),
    (NO_INSURER_CARD, "möhür vurmaq səlahiyyəti"),
    (NO_SEAL_A_CARD, "möhür vurmaq səlahiyyəti"),
])
def test_the_apps_rules_refuse_at_the_callback_with_a_clear_page(client, session, card, words):
    response = sign_in_card(client, card)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Xidmətə giriş alınmadı" in page and words in page
    assert client.get("/insurer").status_code == 302
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "session.sign_in_failed")).all()


def test_session_is_rotated_at_sign_in_and_cleared_at_sign_out(client):
    with client.session_transaction() as s:
        s["planted"] = "attacker"
    sign_in_card(client)
    with client.session_transaction() as s:
        assert "planted" not in s
        assert s.get("_user_id", "").startswith("e:")
        first_sid = s["sid"]
    client.post("/sign-out")
    with client.session_transaction() as s:
        assert "_user_id" not in s
    sign_in_card(client)
    with client.session_transaction() as s:
        assert s["sid"] != first_sid
    assert client.get("/insurer").status_code == 200


def test_sign_out_ends_the_session_at_the_provider_too(client):
    sign_in_card(client)
    response = client.post("/sign-out")
    assert response.status_code == 302 and "/demo-idp/session/end?" in response.location
    back = client.get(app_path(response.location))
    assert back.status_code == 302 and back.location.endswith("/sign-in") or "/sign-in?" in back.location


def test_sign_in_is_audited_and_activates_the_insurer(app, client, session):
    sign_in_card(client)
    events = session.scalars(select(AuditEvent.action)).all()
    assert "session.sign_in" in events
    insurer = session.scalar(select(Insurer).where(Insurer.voen == "9802091761"))
    assert insurer.activated_at is not None


def test_sign_in_attempts_are_rate_limited_with_a_readable_message(app, client):
    app.config["SIGN_IN_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        client.get("/sign-in/national")
    response = client.get("/sign-in/national")
    assert response.status_code == 429
    assert "Çox sayda cəhd" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def test_asan_sign_in_waits_for_the_phone_and_then_signs_in(client):
    waiting = start_asan(client, "+994 50 123 45 67", SEAL_A_ASAN[1])
    assert waiting.status_code == 302
    wait_url = app_path(waiting.location)
    page = client.get(wait_url).get_data(as_text=True)
    code = re.search(r'class="verification-code"[^>]*>(\d{4})<', page).group(1)
    assert 'hx-trigger="every 2s"' in page
    status = client.get(wait_url + "/status", headers={"HX-Request": "true"})
    assert status.status_code == 200 and "Təsdiq gözlənilir" in status.get_data(as_text=True)
    response = sign_in_asan(client, SEAL_A_ASAN, waiting=waiting, expected_code=code)
    assert response.status_code == 302 and response.location.endswith("/insurer")
    assert client.get("/insurer").status_code == 200


def test_asan_request_expires_after_two_minutes(app, client):
    from dost.demo_idp.models import IdpPhoneRequest, idp_db

    wait_url = app_path(start_asan(client).location)
    idp = app.extensions["demo_idp"]
    with idp.app_context():
        phone_request = idp_db.session.scalars(select(IdpPhoneRequest).order_by(IdpPhoneRequest.id.desc())).first()
        phone_request.created_at -= 121
        idp_db.session.commit()
    page = client.get(wait_url + "/status").get_data(as_text=True)
    assert "2 dəqiqə ərzində təsdiqlənmədi" in page


def test_another_browser_cannot_wait_on_my_asan_request(app, client):
    wait_url = app_path(start_asan(client).location)
    other = app.test_client()
    assert other.get(wait_url).status_code == 404
    assert other.get(wait_url + "/status").status_code == 404


BAD_ASAN_INPUT = [
    ({"mobile_number": "", "asan_user_id": "100001"}, "mobile_number", "Mobil nömrəni daxil edin."),
    ({"mobile_number": "+994501234567", "asan_user_id": ""}, "asan_user_id", "İstifadəçi ID-ni daxil edin."),
    ({"mobile_number": "+994401234567", "asan_user_id": "100001"}, "mobile_number", "+994 XX XXX XX XX"),
    ({"mobile_number": "5" * 10_000, "asan_user_id": "100001"}, "mobile_number", "çox uzundur"),
    ({"mobile_number": "+994501234567", "asan_user_id": "12ab"}, "asan_user_id", "6 rəqəm"),
    # An unknown mobile number and a wrong user ID get one answer: Asan İmza holders cannot be probed.
    ({"mobile_number": "+994509999999", "asan_user_id": "100001"}, "asan_user_id", "Mobil nömrə və ya istifadəçi ID"),
    ({"mobile_number": "+994501234567", "asan_user_id": "999999"}, "asan_user_id", "Mobil nömrə və ya istifadəçi ID"),
]


@pytest.mark.parametrize("data,field,message", BAD_ASAN_INPUT)
def test_bad_asan_input_gets_a_message_beside_the_field(client, data, field, message):
    response = start_asan(client, data["mobile_number"], data["asan_user_id"])
    assert response.status_code == 400
    error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert error and message in error.group(1)


def test_post_without_csrf_token_is_refused_at_the_provider(client):
    page = provider_page(client)
    response = client.post(page.request.full_path, data={"action": "card", "card_number": "1000000001",
                                                         "pin": "1111"}, csrf=False)
    assert response.status_code == 400
    assert client.get("/insurer").status_code == 302


def test_error_pages_use_the_layout_and_never_show_a_trace(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Səhifə tapılmadı" in page and 'lang="az"' in page and "Traceback" not in page


def test_security_headers(client):
    response = client.get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


def test_demo_count(session):
    assert session.scalar(select(func.count()).select_from(Insurer)) == 3


def test_a_copied_session_cookie_is_dead_after_sign_out(app, client, session):
    sign_in_card(client)
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/insurer").status_code == 200
    client.post("/sign-out")
    response = copy.get("/insurer")
    assert response.status_code == 302 and "/sign-in" in response.location
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "session.sign_out")).one()
    assert "signed_out_at" in event.changes
    # A new sign-in works again, and is a new session.
    sign_in_card(client)
    assert client.get("/insurer").status_code == 200
    assert copy.get("/insurer").status_code == 302
