"""Employer sign-in: card + PIN, Asan İmza with the phone, bad input, rate limits, session rotation."""

import html
import re

import pytest
from sqlalchemy import func, select

from dost.models import AuditEvent, Insurer
from tests.conftest import EXPIRED_CARD, NO_INSURER_CARD, NO_SEAL_A_CARD, SEAL_A_ASAN, SEAL_A_CARD, sign_in_card


def test_sign_in_page_offers_both_methods_in_azerbaijani(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'lang="az"' in page
    assert "Elektron imza ilə daxil olmaq" in page
    assert "Asan imza ilə daxil olmaq" in page


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
    ({"card_number": "", "pin": "1111"}, "card_number", "Kartın nömrəsini daxil edin."),
    ({"card_number": "1000000001", "pin": ""}, "pin", "PIN kodu daxil edin."),
    ({"card_number": "1" * 10_000, "pin": "1111"}, "card_number", "çox uzundur"),
    ({"card_number": "1000000001", "pin": "9" * 10_000}, "pin", "çox uzundur"),
    ({"card_number": "abc", "pin": "1111"}, "card_number", "8–16 rəqəm"),
    ({"card_number": "1000000001", "pin": "12"}, "pin", "4–8 rəqəm"),
    # An unknown card and a wrong PIN get one answer: card numbers cannot be probed.
    ({"card_number": "1234567890", "pin": "1111"}, "pin", "Kartın nömrəsi və ya PIN kod yanlışdır."),
    ({"card_number": "1000000001", "pin": "9999"}, "pin", "Kartın nömrəsi və ya PIN kod yanlışdır."),
    ({"card_number": EXPIRED_CARD[0], "pin": EXPIRED_CARD[1]}, "card_number", "etibarlılıq müddəti"),
    ({"card_number": NO_INSURER_CARD[0], "pin": NO_INSURER_CARD[1]}, "card_number", "möhür vurmaq səlahiyyəti"),
    ({"card_number": NO_SEAL_A_CARD[0], "pin": NO_SEAL_A_CARD[1]}, "card_number", "möhür vurmaq səlahiyyəti"),
]


@pytest.mark.parametrize("data,field,message", BAD_CARD_INPUT)
def test_bad_card_input_gets_a_message_beside_the_field(client, data, field, message):
    response = client.post("/sign-in/card", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page, re.S)
    assert error, page[:2000]
    assert message in error.group(1)
    assert f'id="{field}"' in page and 'aria-invalid="true"' in page


def test_bad_input_as_htmx_returns_the_form_fragment(client):
    response = client.post("/sign-in/card", data={"card_number": "", "pin": ""}, headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert page.lstrip().startswith("<form") and "<html" not in page
    assert response.headers.get("Vary") and "HX-Request" in response.headers["Vary"]


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


def test_sign_in_is_audited_and_activates_the_insurer(app, client, session):
    sign_in_card(client)
    events = session.scalars(select(AuditEvent.action)).all()
    assert "session.sign_in" in events
    insurer = session.scalar(select(Insurer).where(Insurer.voen == "9802091761"))
    assert insurer.activated_at is not None


def test_sign_in_attempts_are_rate_limited_with_a_readable_message(app, client):
    app.config["SIGN_IN_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        client.post("/sign-in/card", data={"card_number": "1000000001", "pin": "9999"})
    response = client.post("/sign-in/card", data={"card_number": "1000000001", "pin": "9999"})
    assert response.status_code == 429
    assert "Çox sayda cəhd" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def _start_asan(client, mobile=SEAL_A_ASAN[0], user_id=SEAL_A_ASAN[1]):
    return client.post("/sign-in/asan", data={"mobile_number": mobile, "asan_user_id": user_id})


def test_asan_sign_in_waits_for_the_phone_and_then_signs_in(client):
    response = _start_asan(client, "+994 50 123 45 67")
    assert response.status_code == 302
    wait_url = response.location
    page = client.get(wait_url).get_data(as_text=True)
    code = re.search(r'class="verification-code"[^>]*>(\d{4})<', page).group(1)
    assert 'hx-trigger="every 2s"' in page
    status = client.get(wait_url + "/status", headers={"HX-Request": "true"})
    assert status.status_code == 200 and "Təsdiq gözlənilir" in status.get_data(as_text=True)

    phone = client.get("/demo/asan-phone?mobile=%2B994501234567").get_data(as_text=True)
    assert code in phone
    token = re.search(r'name="token" value="([^"]+)"', phone).group(1)
    assert client.post("/demo/asan-phone", data={"token": token, "mobile": "+994501234567"}).status_code == 200

    done = client.get(wait_url + "/status", headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"].endswith("/insurer")
    assert client.get("/insurer").status_code == 200


def test_asan_request_expires_after_two_minutes(app, client, session):
    from datetime import timedelta

    from dost.models import AsanSignInRequest

    wait_url = _start_asan(client).location
    request_row = session.scalar(select(AsanSignInRequest))
    request_row.created_at = request_row.created_at - timedelta(seconds=121)
    session.commit()
    page = client.get(wait_url + "/status").get_data(as_text=True)
    assert "2 dəqiqə ərzində təsdiqlənmədi" in page


def test_another_browser_cannot_wait_on_my_asan_request(app, client):
    wait_url = _start_asan(client).location
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
    response = client.post("/sign-in/asan", data=data)
    assert response.status_code == 400
    error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert error and message in error.group(1)


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/sign-in/card", data={"card_number": "1000000001", "pin": "1111"}, csrf=False)
    assert response.status_code == 400
    assert "təhlükəsizlik nişanı" in response.get_data(as_text=True)


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
