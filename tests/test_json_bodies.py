"""Any JSON body a client can send is a 4xx, never a 500 or a logged traceback: on the verification API (a JSON
error) and on every form page, which Flask-WTF would also read a JSON body on (an error page)."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import provider_page, sign_in_card
from tests.staff_support import sign_in_staff

DEEP = 100_000
BODIES = {
    "deep arrays": b"[" * 1000 + b"]" * 1000,
    "very deep arrays": b"[" * DEEP,
    "deep objects": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "deep mixed": b'{"number":' + b'[{"a":' * 600 + b"1" + b"}]" * 600 + b"}",
    "deep inside a field": b'{"number": "x", "code": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "huge exponent": b'{"number": 1e999999, "code": "x"}',
    "bare huge exponent": b"1e999999",
    "negative huge exponent": b"-1e999999",
    "huge integer": b'{"number": 1' + b"0" * 100_000 + b', "code": "x"}',
    "bare huge integer": b"1" + b"0" * 100_000,
    "NaN": b'{"number": NaN, "code": "x"}',
    "Infinity": b'{"number": Infinity, "code": "x"}',
    "invalid UTF-8": b'{"number": "\xff\xfe", "code": "x"}',
    "truncated UTF-8": b'{"number": "\xc3", "code": "x"}',
    "lone surrogate value": b'{"number": "\\ud800", "code": "\\udfff"}',
    "lone surrogate key": b'{"\\ud800": "x"}',
    "BOM": b'\xef\xbb\xbf{"number": 5}',
    "UTF-16": '{"number": 5}'.encode("utf-16"),
    "duplicate keys": b'{"number": "a", "number": "b", "code": "c", "code": 5}',
    "array": b'["number", "code"]',
    "string": b'"number"',
    "number": b"5",
    "null": b"null",
    "true": b"true",
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "truncated": b'{"number": ',
    "trailing garbage": b'{"number": "a"} {"code": "b"}',
    "NUL": b'{"number": "a\\u0000b", "code": "c"}',
    "raw control character": b'{"number": "a\x01b", "code": "c"}',
}
JSON_TYPES = ["application/json", "application/json; charset=latin-1", "application/problem+json"]


@pytest.fixture
def errors(caplog):
    """Records of the app's logger at ERROR and above (it does not propagate to the root logger caplog watches)."""
    logger = logging.getLogger("dost")
    logger.addHandler(caplog.handler)
    try:
        yield lambda: [record for record in caplog.records
                       if record.levelno >= logging.ERROR or record.exc_info is not None]
    finally:
        logger.removeHandler(caplog.handler)


@pytest.mark.parametrize("name", BODIES)
@pytest.mark.parametrize("content_type", JSON_TYPES)
def test_the_api_answers_any_json_body_with_a_json_400(client, errors, name, content_type):
    response = client.post("/api/v1/verify", data=BODIES[name], content_type=content_type)
    assert response.status_code == 400, (name, response.status_code, response.get_data()[:200])
    assert response.is_json and response.get_json()["error"], name
    assert not errors(), name


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "", "application/xml",
                                          "multipart/form-data; boundary=x"])
@pytest.mark.parametrize("name", ["deep arrays", "deep objects", "lone surrogate value", "huge integer"])
def test_the_api_refuses_a_json_body_of_another_type_in_json(client, errors, name, content_type):
    response = client.post("/api/v1/verify", data=BODIES[name], content_type=content_type or None)
    assert 400 <= response.status_code < 500 and response.is_json, (name, content_type, response.status_code)
    assert not errors()


@pytest.mark.parametrize("path", ["/api/v1/verify", "/api/v1/authorizations", "/api/v1/openapi.json",
                                  "/api/v1/no-such-route"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_every_api_url_answers_a_deep_body_in_json(client, errors, path, method):
    """Unknown API URLs and methods too: no route took them, and still the answer is JSON."""
    response = client.open(path, method=method, data=BODIES["deep arrays"], content_type="application/json")
    if method == "GET" and path == "/api/v1/openapi.json":
        assert response.status_code == 200  # it reads no body
    else:
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
    assert response.is_json, (method, path)
    assert not errors()


# The form pages, each as the user who may post it; the CSRF token comes in the header, as htmx sends it.
FORM_PAGES = [
    ("anonymous", "/verify"),
    ("anonymous", "/staff/sign-in"),
    ("anonymous", "/no-such-page"),
    ("employer", "/feedback"),
    ("employer", "/ssh/wizard"),
    ("employer", "/grants/wizard"),
    ("employer", "/language"),
    ("agent", "/staff/walk-in"),
]


@pytest.mark.parametrize("who,path", FORM_PAGES)
def test_form_pages_answer_any_json_body_with_a_400_page(app, client, errors, who, path):
    if who == "employer":
        assert sign_in_card(client).status_code == 302
    elif who == "agent":
        assert sign_in_staff(client, "agent.bak1").status_code == 302
    token = client.csrf_token()
    for name, body in BODIES.items():
        for content_type in JSON_TYPES:
            response = client.post(path, data=body, content_type=content_type, csrf=False,
                                    headers={"X-CSRFToken": token})
            assert response.status_code == 400, (path, name, content_type, response.status_code)
            assert response.mimetype == "text/html", (path, name)
            assert "Sorğu düzgün deyil" in response.get_data(as_text=True), (path, name)
    assert not errors()


def test_the_demo_identity_providers_forms_answer_any_json_body_with_a_400(app, client, errors):
    paths = [provider_page(client).provider_path, "/demo-idp/asan-phone", "/demo-idp/token"]
    for path in paths:
        for name, body in BODIES.items():
            for content_type in JSON_TYPES:
                response = client.post(path, data=body, content_type=content_type, csrf=False)
                assert 400 <= response.status_code < 500, (path, name, content_type, response.status_code)
    assert not errors()


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_json_body_with_any_method_is_a_400_page(client, errors, method):
    for path in ("/verify", "/sign-in", "/manual"):
        response = client.open(path, method=method, data=BODIES["deep arrays"], content_type="application/json")
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
    assert not errors()


def test_a_usable_json_object_still_works_on_a_form_page(app, client, errors):
    """The strict reading refuses only what no view can take: an object of texts still fills a form."""
    assert sign_in_card(client).status_code == 302
    response = client.post("/feedback", json={"contact": "a@example.az", "subject": "Sual", "message": "JSON"})
    assert response.status_code == 302
    ok = client.post("/api/v1/verify", data=b'\xef\xbb\xbf{"number": "SS\xc5\x9e-2099-000001", "code": "AAAA"}',
                     content_type="application/json")
    assert ok.status_code == 200 and ok.get_json()["reason"] == "not_found"
    assert not errors()
