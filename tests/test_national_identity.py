"""The provider's claims in the app's terms (dost.services.national_identity): every name configurable, dates in
any of the forms providers use, and a clear refusal naming the first claim that is missing or not of its form."""

from __future__ import annotations

from datetime import date

import pytest

from dost import config
from dost.models import CredentialKind
from dost.services.errors import DomainError
from dost.services.national_identity import Organization, identity_from_claims

CLAIMS = {
    "sub": "abc", "fin": "5zk4r9p", "name": "Səmir Qələyev Nəzər oğlu",
    "certificate": {"kind": "card", "serial": "1000000001", "valid_from": "2025-01-01",
                    "valid_until": "2029-12-31T23:59:59+04:00"},
    "organizations": [{"voen": "9802091761", "seal": True}, {"voen": "1403558271", "seal": False}],
}


def test_the_default_names():
    identity = identity_from_claims(CLAIMS)
    assert identity.fin == "5ZK4R9P" and identity.holder_name == "SƏMİR QƏLƏYEV NƏZƏR OĞLU"
    assert identity.kind == CredentialKind.CARD and identity.card_number == "1000000001"
    assert (identity.valid_from, identity.valid_until) == (date(2025, 1, 1), date(2029, 12, 31))
    assert identity.organizations == (Organization("9802091761", True), Organization("1403558271", False))
    assert identity.seal_voen == "9802091761"


def test_a_provider_with_its_own_names_and_words_is_configuration():
    claims = {"sub": "x", "pin": "5ZK4R9P", "full_name": "Səmir Qələyev",
              "cert": {"type": "mobile-id", "msisdn": "050 123 45 67", "nbf": 1735689600, "exp": 1893455999},
              "companies": [{"tin": "2600417342", "can_seal": True}]}
    names = {"fin": "pin", "name": "full_name", "certificate_kind": "cert.type", "mobile_number": "cert.msisdn",
             "valid_from": "cert.nbf", "valid_until": "cert.exp", "organizations": "companies",
             "organization_voen": "tin", "organization_seal": "can_seal"}
    identity = identity_from_claims(claims, names, {"mobile-id": "sima"})
    assert identity.kind == CredentialKind.SIMA and identity.mobile_number == "+994501234567"
    assert (identity.valid_from, identity.valid_until) == (date(2025, 1, 1), date(2029, 12, 31))
    assert identity.seal_voen == "2600417342"


@pytest.mark.parametrize(("change", "claim"), [
    ({"fin": None}, "fin"),
    ({"fin": "ABC"}, "fin"),
    ({"fin": ["5ZK4R9P"]}, "fin"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"certificate": None}, "certificate.kind"),
    ({"certificate": {**CLAIMS["certificate"], "kind": "retina"}}, "certificate.kind"),
    ({"certificate": {**CLAIMS["certificate"], "serial": "12ab"}}, "certificate.serial"),
    ({"certificate": {**CLAIMS["certificate"], "valid_from": "01.01.2025"}}, "certificate.valid_from"),
    ({"certificate": {**CLAIMS["certificate"], "valid_until": 10**20}}, "certificate.valid_until"),
    ({"certificate": {**CLAIMS["certificate"], "valid_until": "2024-01-01"}}, "certificate.valid_until"),
    ({"certificate": {"kind": "asan", "phone_number": "+994401234567", "valid_from": "2025-01-01",
                      "valid_until": "2029-12-31"}}, "certificate.phone_number"),
    ({"organizations": "9802091761"}, "organizations"),
    ({"organizations": [{"voen": "123"}]}, "organizations"),
    ({"organizations": [{"voen": "9802091761", "seal": "yes"}]}, "organizations"),
    ({"organizations": [{"voen": "9802091761", "seal": True}, {"voen": "1403558271", "seal": True}]}, "seal"),
])
def test_claims_missing_or_malformed_are_refused_naming_the_claim(change, claim):
    with pytest.raises(DomainError) as refused:
        identity_from_claims({**CLAIMS, **change})
    assert refused.value.code == "claims_malformed" and f"({claim})" in str(refused.value.message)


def test_the_names_come_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv("DOST_OIDC_CLAIMS", '{"fin": "pin"}')
    monkeypatch.setenv("DOST_OIDC_CERTIFICATE_KINDS", '{"smartcard": "card"}')
    settings = config.from_environment()
    assert settings["OIDC_CLAIMS"] == {"fin": "pin"} and settings["OIDC_CERTIFICATE_KINDS"] == {"smartcard": "card"}
    monkeypatch.setenv("DOST_OIDC_CLAIMS", '["fin"]')
    with pytest.raises(ValueError, match="DOST_OIDC_CLAIMS"):
        config.from_environment()
