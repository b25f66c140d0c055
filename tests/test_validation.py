"""The field rules of DESIGN.md."""

import pytest

from dost import validation
from dost.models import InsurerType


@pytest.mark.parametrize("value,ok", [("5ZK4R9P", True), ("1234567", True), ("5zk4r9p", False), ("5ZK4R9", False),
                                       ("5ZK4R9PP", False), ("5ZK-R9P", False), ("5ZK4R9Ə", False), ("", False)])
def test_fin(value, ok):
    assert validation.is_fin(value) is ok


def test_fin_is_normalized_to_upper_case_without_dotted_i():
    assert validation.normalize_fin(" 5zk4r9p ") == "5ZK4R9P"
    assert validation.normalize_fin("ii12345") == "II12345"


@pytest.mark.parametrize("value,kind,ok", [
    ("9802091761", InsurerType.LEGAL, True),
    ("9802091761", InsurerType.INDIVIDUAL, False),
    ("2600417342", InsurerType.INDIVIDUAL, True),
    ("2600417342", InsurerType.LEGAL, False),
    ("9802091763", None, False),
    ("980209176", None, False),
    ("98020917611", None, False),
    ("98020917a1", None, False),
])
def test_voen_check_digit_by_insurer_type(value, kind, ok):
    assert validation.is_voen(value, kind) is ok


@pytest.mark.parametrize("value,ok", [("9819854215", True), ("981985421", False), ("98198542150", False),
                                       ("98198S4215", False)])
def test_dsmf_account(value, ok):
    assert validation.is_dsmf_account(value) is ok


@pytest.mark.parametrize("value,ok", [("1234567890123", True), ("123456789012", False), ("12345678901234", False),
                                       ("123456789012x", False)])
def test_ssn(value, ok):
    assert validation.is_ssn(value) is ok


@pytest.mark.parametrize("raw,normalized,ok", [
    ("+994501234567", "+994501234567", True),
    ("+994 50 123 45 67", "+994501234567", True),
    ("050-123-45-67", "+994501234567", True),
    ("994101234567", "+994101234567", True),
    ("+994991234567", "+994991234567", True),
    ("+994401234567", "+994401234567", False),  # 40 is not an operator code
    ("+99450123456", "+99450123456", False),
    ("+7501234567", "+7501234567", False),
])
def test_mobile_numbers(raw, normalized, ok):
    assert validation.normalize_mobile(raw) == normalized
    assert validation.is_mobile(validation.normalize_mobile(raw)) is ok


def test_azerbaijani_case_rules():
    assert validation.az_upper("ismayılov") == "İSMAYILOV"
    assert validation.az_upper("qələyev") == "QƏLƏYEV"
    assert validation.az_lower("İSMAYILOV") == "ismayılov"
    assert validation.search_key("  ismayılov ") == validation.search_key("İSMAYILOV")
    # Python's own rules get this wrong; the module must not.
    assert "İ".lower() != validation.az_lower("İ")


def test_mask_fin():
    assert validation.mask_fin("5ZK4R9P") == "5Z****P"
