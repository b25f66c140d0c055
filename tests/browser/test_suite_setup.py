"""The browser suite's own rules: in CI a missing browser is a failure, never a silent skip."""

from __future__ import annotations

import pytest

from tests.browser.support import az_lower, unavailable


def test_missing_browser_fails_where_required(monkeypatch):
    monkeypatch.setenv("DOST_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="required"):
        unavailable("chromium is not installed")


def test_missing_browser_skips_elsewhere(monkeypatch):
    monkeypatch.delenv("DOST_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception):
        unavailable("chromium is not installed")


def test_surnames_are_typed_in_azerbaijani_lower_case():
    assert az_lower("İSMAYILOV") == "ismayılov"
    assert az_lower("ŞÜKÜROVA") == "şükürova"
