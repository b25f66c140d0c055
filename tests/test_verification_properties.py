"""Property-based: generated input thrown at the verification page, the form and the API never gives a 500.

Examples per backend: 900 QR paths + 500 form posts + 700 API bodies = 2,100 inputs."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dost.services import signing
from tests.test_signing import make_notice

SETTINGS = {"deadline": None, "database": None, "derandomize": True,
            "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large]}
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
REASONS = {"valid", "superseded", "refused", "not_yet_issued", "not_found", "signature_invalid", "key_revoked"}
REASON_RE = re.compile(r'data-reason="([a-z_]+)"')


def _mutations(token: str):
    """Strategies that damage a valid token the way a bad print, a bad scan or an attacker would."""
    index = st.integers(0, len(token) - 1)
    return st.one_of(
        st.builds(lambda i: token[:i], index),  # truncated
        st.builds(lambda i, c: token[:i] + c + token[i + 1:], index, st.sampled_from(B64 + ".%~/é\x00 ")),
        st.builds(lambda i, s: token[:i] + s + token[i:], index, st.text(max_size=20)),  # inserted junk
        st.builds(lambda i: token[:i] + token[i + 1:], index),  # dropped character
        st.builds(lambda s: token + s, st.text(max_size=300)),
        st.builds(lambda n: ".".join([token] * n), st.integers(2, 5)),
    )


def _assert_clean(response, where: str, generated) -> None:
    assert response.status_code < 500, (where, generated, response.status_code)
    if response.status_code == 200 and where != "api":
        match = REASON_RE.search(response.get_data(as_text=True))
        assert match and match.group(1) in REASONS, (where, generated)


def test_generated_qr_paths_never_fail(client, session):
    notice = make_notice(session)
    raw = f"{notice.number}.{notice.key_id}.{notice.signature}"
    seen = []

    @settings(max_examples=900, **SETTINGS)
    @given(st.one_of(
        _mutations(raw),
        st.text(max_size=300),
        st.text(alphabet=B64 + ".-_%", max_size=200),
        st.builds(lambda n, k, s: f"{n}.{k}.{s}", st.text(max_size=40), st.text(alphabet=B64, max_size=10),
                  st.text(alphabet=B64, min_size=80, max_size=90)),
        st.just("x" * 10_000),
    ), st.booleans())
    def run(token: str, encode: bool):
        seen.append(1)
        path = "/v/" + (quote(token, safe="") if encode else quote(token, safe="/%.~"))
        _assert_clean(client.get(path), "path", token)

    run()
    assert len(seen) >= 900
    # Only the untouched token verifies.
    response = client.get("/v/" + signing.verification_token(notice))
    assert 'data-reason="valid"' in response.get_data(as_text=True)


def test_generated_form_posts_never_fail(client, session):
    notice = make_notice(session)
    seen = []
    text = st.one_of(st.text(max_size=60), st.text(max_size=2000), st.sampled_from(
        [notice.number, notice.verification_code, "2026-01-01", "31.12.2025", "0000-00-00", "9" * 13]))

    @settings(max_examples=500, **SETTINGS)
    @given(st.fixed_dictionaries({}, optional={"number": text, "code": text, "date": text, "surname": text,
                                               "ssn": text}), st.booleans())
    def run(data: dict, qr_page: bool):
        seen.append(1)
        url = "/v/" + signing.verification_token(notice) if qr_page else "/verify"
        _assert_clean(client.post(url, data=data), "form", data)

    run()
    assert len(seen) >= 500


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


def test_generated_api_bodies_never_fail(client, session):
    notice = make_notice(session)
    token = f"{notice.number}.{notice.key_id}.{notice.signature}"
    seen = []
    field = st.one_of(st.text(max_size=80), st.sampled_from(
        [token, "https://ssh.dost.gov.az/v/" + signing.verification_token(notice), notice.number,
         notice.verification_code, "2026-01-01", "2999-12-31", "0001-01-01"]), json_values,
        st.text(max_size=60).map(lambda t: "http://" + t), _mutations("https://h/v/" + token))
    keys = st.sampled_from(["url", "number", "code", "date", "surname", "ssn"]) | st.text(max_size=10)

    @settings(max_examples=700, **SETTINGS)
    @given(st.one_of(
        st.dictionaries(keys, field, max_size=6).map(json.dumps),
        json_values.map(json.dumps),
        st.text(max_size=200),
        st.binary(max_size=200),
    ), st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]))
    def run(body, content_type: str):
        seen.append(1)
        response = client.post("/api/v1/verify", data=body, content_type=content_type)
        _assert_clean(response, "api", body)
        assert response.is_json, body
        if response.status_code == 200:
            assert response.get_json()["reason"] in REASONS

    run()
    assert len(seen) >= 700

