"""Verification: /v/ pages, the number + code form, the API, statuses, minimal disclosure, bad input, abuse."""

from __future__ import annotations

import hashlib
import html
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from dost.models import ApplicationReason, Notice, VerificationCheck
from dost.services import signing, verification
from dost.services.actors import Actor
from dost.timeutil import today
from tests.test_signing import make_notice, pdf_bytes, raw_token_of, refuse, supersede, token_of


def page_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def without_csrf(page: str) -> str:
    """The page with its per-request CSRF tokens masked."""
    return re.sub(r'(csrf-token" content="|X-CSRFToken": "|name="csrf_token" value=")[^"]+', r"\1…", page)


def text_of(response) -> str:
    """The page's visible text, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page_of(response)).split())


def reason_of(response) -> str:
    match = re.search(r'data-reason="([a-z_]+)"', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:3000]
    return match.group(1)


def v_url(notice: Notice) -> str:
    return "/v/" + token_of(notice)


def private_values(notice: Notice) -> list[str]:
    """Stored values that must never reach a verifier."""
    application = notice.application
    person = application.person
    return [application.fin, application.ssn, application.name, application.surname, application.patronymic,
            person.document_number, person.birth_date.strftime("%d.%m.%Y"), person.birth_date.isoformat(),
            person.birthplace, notice.verification_code, notice.fin_hash]


# --- the QR page ------------------------------------------------------------------------------------------


def test_scanned_url_shows_authentic_and_in_force_with_minimal_fields(client, session):
    notice = make_notice(session)
    response = client.get(v_url(notice))
    assert response.status_code == 200
    assert reason_of(response) == "valid"
    page = page_of(response)
    application = notice.application
    assert "Həqiqidir və qüvvədədir" in page
    assert notice.number in page
    assert application.insurer.full_name in page
    assert f"{application.surname[0]}. {application.name[0]}. {application.patronymic[0]}." in page
    assert application.fin[:2] + "****" + application.fin[-1] in page
    assert "Dublikat" in page
    for value in private_values(notice):
        assert value not in page, value


def test_result_page_shows_the_official_host_and_icons_with_text(client, session, app):
    notice = make_notice(session)
    page = page_of(client.get(v_url(notice)))
    assert "Rəsmi yoxlama ünvanı:" not in page  # no public URL configured: no host is called official
    assert 'class="verdict__icon" aria-hidden="true">✔' in page
    assert "rəsmi ünvanda açılmayıb" not in page
    app.config["PUBLIC_BASE_URL"] = "https://ssh.dost.gov.az"
    try:
        page = page_of(client.get(v_url(notice)))
    finally:
        app.config["PUBLIC_BASE_URL"] = ""
    assert "Rəsmi yoxlama ünvanı:" in page and "ssh.dost.gov.az" in page and "rəsmi ünvanda açılmayıb" in page


def test_pages_have_no_inline_scripts_or_styles(client, session):
    notice = make_notice(session)
    for url in (v_url(notice), "/verify", "/verify/scan"):
        page = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert " style=" not in page and " onclick=" not in page, url


def test_a_number_alone_reveals_nothing(client, session):
    notice = make_notice(session)
    unknown = client.get("/v/" + quote("SSŞ-2099-999999", safe=""))
    known = client.get("/v/" + quote(notice.number, safe=""))
    assert reason_of(unknown) == reason_of(known) == "not_found"
    assert page_of(unknown).replace("SSŞ-2099-999999", "") == page_of(known).replace(notice.number, "")


def test_unknown_number_and_wrong_signature_look_the_same(client, session):
    notice = make_notice(session)
    other = make_notice(session, index=1)
    wrong_signature = f"/v/{quote(notice.number, safe='')}.{notice.key_id}.{other.signature}"
    unknown_number = f"/v/{quote('SSŞ-2099-999999', safe='')}.{notice.key_id}.{notice.signature}"
    assert reason_of(client.get(wrong_signature)) == reason_of(client.get(unknown_number)) == "signature_invalid"


def _flip(text: str, position: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return text[:position] + alphabet[(alphabet.index(text[position]) + 1) % 64] + text[position + 1:]


def bad_paths(notice: Notice, other: Notice) -> dict[str, str]:
    number = quote(notice.number, safe="")
    sig, kid = notice.signature, notice.key_id
    lookalike = notice.number.replace("S", "\u0405", 1)  # Cyrillic DZE looks like Latin S
    return {
        "truncated signature": f"/v/{number}.{kid}.{sig[:-10]}",
        "one character changed": f"/v/{number}.{kid}.{_flip(sig, 10)}",
        "last character changed": f"/v/{number}.{kid}.{_flip(sig, 85)}",
        "wrong key id": f"/v/{number}.aaaaaaaa.{sig}",
        "key id of another key": f"/v/{number}.{other.key_id}.{sig}",
        "another notice's signature": f"/v/{number}.{kid}.{other.signature}",
        "another notice's number": f"/v/{quote(other.number, safe='')}.{kid}.{sig}",
        "base64 junk": f"/v/{number}.{kid}.{'!@$%^&*()' * 9}",
        "padding": f"/v/{number}.{kid}.{sig}==",
        "10 000 characters": "/v/" + "A" * 10_000,
        "10 000 character number": f"/v/{'9' * 10_000}.{kid}.{sig}",
        "unicode look-alike number": f"/v/{quote(lookalike, safe='')}.{kid}.{sig}",
        "full-width digits": "/v/" + quote(notice.number.replace("2", "２"), safe="") + f".{kid}.{sig}",
        "NUL byte": f"/v/{number}%00.{kid}.{sig}",
        "bad percent encoding": f"/v/%ZZ%C5.{kid}.{sig}",
        "invalid UTF-8": f"/v/%ED%A0%80.{kid}.{sig}",
        "only dots": "/v/...",
        "slashes": f"/v/{number}/{kid}/{sig}",
    }


def test_bad_qr_urls_are_a_clean_invalid_never_a_500(client, session):
    notice = make_notice(session)
    other_key = signing.rotate_keys(session, Actor.system("test"))
    session.commit()
    other = make_notice(session, index=1)
    assert other.key_id == other_key.kid
    for name, path in bad_paths(notice, other).items():
        response = client.get(path)
        assert response.status_code < 500, name
        if response.status_code == 200:
            assert reason_of(response) in ("signature_invalid", "not_found"), name
            page = page_of(response)
            for value in private_values(notice):
                assert value not in page, (name, value)


def test_compromised_key_shows_key_revoked(client, session):
    notice = make_notice(session)
    signing.compromise_key(session, Actor.system("test"), notice.key_id)
    session.commit()
    later = make_notice(session, index=1)
    response = client.get(v_url(notice))
    assert reason_of(response) == "key_revoked"
    assert "İmza açarı ləğv edilib" in page_of(response)
    # Whoever holds a compromised key could forge the URL: nothing about the notice is shown.
    assert "verify-facts" not in response.get_data(as_text=True)
    assert reason_of(client.get(v_url(later))) == "valid"


def test_notice_re_signed_after_a_compromise_keeps_its_old_qr_meaningful(client, session):
    notice = make_notice(session)
    old_url = v_url(notice)
    signing.compromise_key(session, Actor.system("test"), notice.key_id)
    session.commit()
    notice = session.get(Notice, notice.id)
    signing.sign_notice(session, notice, notice.application)
    session.commit()
    assert reason_of(client.get(old_url)) == "key_revoked"
    assert reason_of(client.get(v_url(notice))) == "valid"


def test_rotated_keys_still_verify_old_notices(client, session):
    old = make_notice(session)
    signing.rotate_keys(session, Actor.system("test"))
    session.commit()
    new = make_notice(session, index=1)
    assert old.key_id != new.key_id
    assert reason_of(client.get(v_url(old))) == "valid"
    assert reason_of(client.get(v_url(new))) == "valid"


def test_a_key_from_another_process_is_found_after_a_cache_miss(client, session):
    notice = make_notice(session)
    signing.invalidate_key_cache()
    assert reason_of(client.get(v_url(notice))) == "valid"


def test_superseded_notice_links_to_the_replacement_with_its_reason(client, session):
    old = make_notice(session, reason=ApplicationReason.LOST)
    new = supersede(session, old, reason=ApplicationReason.DAMAGED)
    response = client.get(v_url(old))
    assert reason_of(response) == "superseded"
    page = page_of(response)
    assert "yenisi ilə əvəz olunub" in page
    assert "Dövlət sosial sığorta şəhadətnaməsinin yararsız hala düşməsi" in page
    assert f'href="/v/{token_of(new)}"' in response.get_data(as_text=True).replace("&#39;", "'")
    assert reason_of(client.get(v_url(new))) == "valid"


def test_refused_application_shows_refused(client, session):
    notice = make_notice(session)
    refuse(session, notice)
    response = client.get(v_url(notice))
    assert reason_of(response) == "refused"
    assert "imtina edilib/geri götürülüb" in page_of(response)


# --- status on a date -------------------------------------------------------------------------------------


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T08:00:00+00:00")


def test_status_on_a_date_follows_the_history(client, session):
    notice = make_notice(session, issued_at=_at("2026-01-10"))
    refuse(session, notice, at=_at("2026-02-01"))
    expectations = {"2026-01-09": "not_yet_issued", "2026-01-10": "valid", "2026-01-31": "valid",
                    "2026-02-01": "refused", "2026-02-05": "refused"}
    for day, reason in expectations.items():
        response = client.post(v_url(notice), data={"date": day})
        assert response.status_code == 200, page_of(response)[:2000]
        assert reason_of(response) == reason, day
    # The form's dd.mm.yyyy spelling works too.
    assert reason_of(client.post(v_url(notice), data={"date": "20.01.2026"})) == "valid"
    # Without a date: now.
    assert reason_of(client.get(v_url(notice))) == "refused"


def test_superseded_on_a_date_uses_the_replacement_issue_date(client, session):
    old = make_notice(session, issued_at=_at("2026-01-10"))
    supersede(session, old, issued_at=_at("2026-03-01"))
    assert reason_of(client.post(v_url(old), data={"date": "2026-02-15"})) == "valid"
    assert reason_of(client.post(v_url(old), data={"date": "2026-03-01"})) == "superseded"
    assert reason_of(client.get(v_url(old))) == "superseded"


def test_status_on_a_date_service_level(session):
    notice = make_notice(session, issued_at=_at("2026-01-10"))
    token = raw_token_of(notice)
    assert verification.check_token(session, token, _at("2026-01-10").date()).reason == "valid"
    assert verification.check_token(session, token, _at("2026-01-01").date()).reason == "not_yet_issued"


@pytest.mark.parametrize("value,message", [
    ("31.02.2026", "gg.aa.iiii"), ("yesterday", "gg.aa.iiii"), ("2026-1-1x", "gg.aa.iiii"),
    ("1" * 5000, "gg.aa.iiii"), ((datetime.now(UTC) + timedelta(days=3)).strftime("%d.%m.%Y"), "bu gündən sonra"),
])
def test_bad_dates_get_a_message_beside_the_field(client, session, value, message):
    notice = make_notice(session)
    response = client.post(v_url(notice), data={"date": value})
    assert response.status_code == 400
    error = re.search(r'id="date-error"[^>]*>(.*?)</p>', page_of(response), re.S)
    assert error and message in error.group(1)


# --- the form: number + code ------------------------------------------------------------------------------


def test_form_page_is_reachable_from_sign_in(client):
    assert 'href="/verify"' in client.get("/sign-in").get_data(as_text=True)
    page = page_of(client.get("/verify"))
    assert "Sənədlərin yoxlanılması" in page and 'for="number"' in page and 'for="code"' in page
    assert 'href="/verify/scan"' in page


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "{dashed}", " {spaced} "])
def test_number_and_code_find_the_notice(client, session, typed):
    notice = make_notice(session)
    code = notice.verification_code
    value = typed.format(code=code, lower=code.lower(), dashed=signing.format_code(code),
                         spaced=code[:4] + " " + code[4:])
    response = client.post("/verify", data={"number": notice.number.lower(), "code": value})
    assert response.status_code == 200
    assert reason_of(response) == "valid"
    assert notice.number in page_of(response)


def test_wrong_code_and_unknown_number_are_the_same_not_found(client, session):
    notice = make_notice(session)
    wrong = client.post("/verify", data={"number": notice.number, "code": "AAAA-AAAA"})
    unknown = client.post("/verify", data={"number": "SSŞ-2099-000001", "code": notice.verification_code})
    assert reason_of(wrong) == reason_of(unknown) == "not_found"
    # Identical pages, apart from the CSRF token, which Flask-WTF signs with the current second.
    assert without_csrf(page_of(wrong)) == without_csrf(page_of(unknown))
    for value in private_values(notice):
        assert value not in page_of(wrong)


@pytest.mark.parametrize("data,field,message", [
    ({"number": "", "code": "ABCD"}, "number", "nömrəsini daxil edin"),
    ({"number": "SSŞ-1", "code": ""}, "code", "yoxlama kodunu daxil edin"),
    ({"number": "9" * 10_000, "code": "ABCD"}, "number", "çox uzundur"),
    ({"number": "SSŞ-1", "code": "A" * 10_000}, "code", "çox uzundur"),
    ({"number": "SSŞ-1", "code": "ABCD", "ssn": "12345"}, "ssn", "13 rəqəm"),
    ({"number": "SSŞ-1", "code": "ABCD", "surname": "Robert'); DROP TABLE--"}, "surname", "hərflər"),
])
def test_bad_form_input_gets_a_message_beside_the_field(client, data, field, message):
    response = client.post("/verify", data=data)
    assert response.status_code == 400
    error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page_of(response), re.S)
    assert error, page_of(response)[:3000]
    assert message in error.group(1)


def test_form_without_csrf_token_is_refused(client, session):
    notice = make_notice(session)
    response = client.post("/verify", data={"number": notice.number, "code": notice.verification_code}, csrf=False)
    assert response.status_code == 400


# --- match / no match -------------------------------------------------------------------------------------


def test_typed_surname_and_ssn_answer_match_or_no_match_only(client, session):
    notice = make_notice(session)
    application = notice.application
    from dost.validation import az_lower

    typed = az_lower(application.surname)
    response = client.post(v_url(notice), data={"surname": typed, "ssn": application.ssn})
    page = page_of(response)
    assert response.status_code == 200
    assert page.count("uyğundur") >= 2 and "uyğun deyil" not in page.replace('"uyğun deyil"', "")
    assert application.surname not in page
    response = client.post(v_url(notice), data={"surname": "Başqasoyadov", "ssn": "1" * 13})
    page = page_of(response)
    assert "Soyadı: uyğun deyil" in text_of(response) and "SSN: uyğun deyil" in text_of(response)
    assert application.ssn not in page and application.surname not in page


def test_azerbaijani_case_rules_in_surname_match(session):
    notice = make_notice(session)
    result = verification.check_token(session, raw_token_of(notice))
    verification.compare_printed(result, surname="  " + notice.application.surname.title() + " ")
    # Python's title() breaks İ/I; the verifier must still get a defined answer, never an error.
    assert result.matches["surname"] in (True, False)
    result = verification.check_token(session, raw_token_of(notice))
    from dost.validation import az_lower

    verification.compare_printed(result, surname=az_lower(notice.application.surname))
    assert result.matches == {"surname": True}


def test_match_is_never_offered_for_an_unauthenticated_notice(session):
    result = verification.check_token(session, "SSŞ-2099-1.aaaaaaaa." + "A" * 86)
    verification.compare_printed(result, surname="X", ssn="1" * 13)
    assert result.matches == {}


# --- PDF upload -------------------------------------------------------------------------------------------


def test_identical_pdf_is_confirmed_and_a_changed_one_is_not(client, session):
    notice = make_notice(session)
    same = client.post(v_url(notice), data={"pdf": (io.BytesIO(pdf_bytes(notice.number)), "bildiris.pdf")},
                       content_type="multipart/form-data")
    assert same.status_code == 200 and "bayt-bayt eynidir" in page_of(same)
    changed = client.post(v_url(notice), data={"pdf": (io.BytesIO(pdf_bytes(notice.number) + b" "), "b.pdf")},
                          content_type="multipart/form-data")
    assert changed.status_code == 200 and "eyni deyil" in page_of(changed)


def test_pdf_upload_works_on_the_number_and_code_form(client, session):
    notice = make_notice(session)
    response = client.post("/verify", data={"number": notice.number, "code": notice.verification_code,
                                            "pdf": (io.BytesIO(pdf_bytes(notice.number)), "b.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and "bayt-bayt eynidir" in page_of(response)
    assert hashlib.sha256(pdf_bytes(notice.number)).hexdigest() not in page_of(response)


def test_non_pdf_upload_is_refused_beside_the_field(client, session):
    notice = make_notice(session)
    response = client.post(v_url(notice), data={"pdf": (io.BytesIO(b"GIF89a not a pdf"), "x.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    error = re.search(r'id="pdf-error"[^>]*>(.*?)</p>', page_of(response), re.S)
    assert error and "PDF deyil" in error.group(1)


def test_pdf_over_the_verification_limit_is_refused(client, session, app):
    notice = make_notice(session)
    limit = app.config["VERIFY_MAX_PDF_BYTES"]
    # A small limit keeps the test client's body in memory (it spools large bodies to unclosed temp files).
    app.config["VERIFY_MAX_PDF_BYTES"] = 100_000
    try:
        big = b"%PDF-1.4\n" + b"0" * 100_010
        response = client.post(v_url(notice), data={"pdf": (io.BytesIO(big), "big.pdf")},
                               content_type="multipart/form-data")
    finally:
        app.config["VERIFY_MAX_PDF_BYTES"] = limit
    assert response.status_code == 400 and "çox böyükdür" in page_of(response)


class CountingStream(io.RawIOBase):
    """An endless request body that counts what the server reads."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return 0

    def seek(self, offset, whence=0):
        return 0

    def readinto(self, buffer):
        size = len(buffer)
        buffer[:size] = b"0" * size
        self.read_bytes += size
        return size


def test_20_mb_upload_is_refused_by_size_before_it_is_read(client, session):
    notice = make_notice(session)
    stream = CountingStream()
    # The test client would measure the stream; the environment says what a real client announces.
    response = client.post(
        v_url(notice), content_type="multipart/form-data; boundary=xyz",
        environ_overrides={"wsgi.input": stream, "CONTENT_LENGTH": str(20 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert "Göndərilən fayl və ya məlumat çox böyükdür" in page_of(response)
    assert stream.read_bytes < 1024 * 1024


# --- the check log ----------------------------------------------------------------------------------------


def test_every_check_is_logged_without_the_address_and_counted(client, session):
    notice = make_notice(session)
    other = make_notice(session, index=1)
    client.get(v_url(notice), environ_base={"REMOTE_ADDR": "203.0.113.7"})
    client.post("/verify", data={"number": notice.number, "code": notice.verification_code})
    client.post("/api/v1/verify", json={"url": "https://x/v/" + token_of(notice)})
    client.get(f"/v/{quote(notice.number, safe='')}.{notice.key_id}.{other.signature}")  # forged: not counted
    client.post("/verify", data={"number": notice.number, "code": "WRONG-CODE"})  # wrong code: not counted
    rows = session.scalars(select(VerificationCheck).order_by(VerificationCheck.id)).all()
    assert [r.result for r in rows] == ["valid", "valid", "valid", "signature_invalid", "not_found"]
    assert [r.channel for r in rows] == ["qr", "form", "api", "qr", "form"]
    assert rows[0].client_hash == signing.client_hash("203.0.113.7") and "203.0.113.7" not in rows[0].client_hash
    assert all(len(r.client_hash) == 64 for r in rows)
    assert verification.checks_count(session, [notice.id, other.id]) == {notice.id: 3}
    assert verification.checks_count(session, []) == {}


# --- rate limit -------------------------------------------------------------------------------------------


def test_page_and_api_share_a_rate_limit_with_a_readable_429(client, session, app):
    notice = make_notice(session)
    app.config["VERIFY_RATE_LIMIT"] = "3 per minute"
    assert client.get(v_url(notice)).status_code == 200
    assert client.post("/api/v1/verify", json={"url": v_url(notice)}).status_code == 200
    assert client.post("/verify", data={"number": notice.number, "code": "X"}).status_code == 200
    page = client.get(v_url(notice))
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert "Çox sayda cəhd" in page_of(page)
    api = client.post("/api/v1/verify", json={"url": v_url(notice)})
    assert api.status_code == 429 and api.get_json()["error"] == "rate_limited" and api.headers["Retry-After"]
    # Another client has its own budget.
    assert client.get(v_url(notice), environ_base={"REMOTE_ADDR": "198.51.100.2"}).status_code == 200


# --- scan page and assets ---------------------------------------------------------------------------------


def test_scan_page_uses_local_scripts_only(client):
    page = client.get("/verify/scan").get_data(as_text=True)
    assert "/static/js/scan.js" in page and "/static/vendor/jsQR.js" in page
    assert "http://" not in page.replace("http://localhost", "") and "https://" not in page
    assert 'data-official-host="localhost"' in page
    for asset in ("/static/js/scan.js", "/static/vendor/jsQR.js", "/static/vendor/jsQR.LICENSE"):
        response = client.get(asset)
        assert response.status_code == 200, asset
        response.close()
    assert 'id="scan-start"' in page and "hidden" in page


def test_notices_of_walk_in_applications_show_the_centre_instead_of_an_insurer(client, session):
    notice = make_notice(session, walk_in=True)
    response = client.get(v_url(notice))
    assert reason_of(response) == "valid" and "DOST mərkəzində birbaşa müraciət" in page_of(response)


def test_database_row_edited_after_signing_no_longer_verifies(client, session):
    notice = make_notice(session)
    application = notice.application
    application.deadline = application.deadline + timedelta(days=60)
    session.commit()
    assert reason_of(client.get(v_url(notice))) == "signature_invalid"
    response = client.post("/verify", data={"number": notice.number, "code": notice.verification_code})
    assert reason_of(response) == "signature_invalid"


def test_count_is_exposed_for_the_employer_registry(session):
    notice = make_notice(session)
    for _ in range(3):
        result = verification.check_token(session, raw_token_of(notice))
        verification.record_check(session, result, "192.0.2.1")
    session.commit()
    assert verification.checks_count(session, [notice.id]) == {notice.id: 3}
    assert session.scalar(select(func.count()).select_from(VerificationCheck)) == 3


def test_today_is_accepted_as_a_date(client, session):
    notice = make_notice(session)
    response = client.post(v_url(notice), data={"date": today().isoformat()})
    assert reason_of(response) == "valid"


def test_a_scan_sets_no_cookie_and_the_language_switch_still_works(app, client, session):
    notice = make_notice(session)
    response = client.get(v_url(notice))
    page = response.get_data(as_text=True)
    assert 'data-reason="valid"' in page
    assert "Set-Cookie" not in response.headers and 'name="csrf-token"' not in page
    # The page's own language switch (no token for an anonymous visitor) switches this browser's language.
    switched = client.post("/language", csrf=False, data={"locale": "en", "next": v_url(notice)})
    assert switched.status_code == 302 and "dost_locale=en" in switched.headers.get("Set-Cookie", "")
    assert 'lang="en"' in client.get(v_url(notice)).get_data(as_text=True)
    # The extra checks are a form: that page has its session and token.
    more = client.get(v_url(notice) + "?more=1")
    assert "Set-Cookie" in more.headers and 'name="csrf_token"' in more.get_data(as_text=True)
