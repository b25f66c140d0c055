"""Sign-in at the national login in Chromium, end to end: the app under gunicorn as the relying party of
(1) an independent OpenID provider, panva/oidc-provider with its own development screens, and (2) the demo
identity provider as `make run` serves it. Card and Asan İmza, seal holder and delegate (a grant given in the app,
then exactly that service), and ÇIXIŞ through the provider's end-session endpoint."""

from __future__ import annotations

import re

import pytest

from tests.browser import support
from tests.browser.conftest import serve
from tests.browser.support import DELEGATE_CARD, SEAL_CARD
from tests.national_login_support import CLIENT_ID, CLIENT_SECRET, TestProvider, free_port, require_provider


@pytest.fixture(scope="module")
def independent(tmp_path_factory):
    """The app signing in at oidc-provider (its accounts: tests/national_login_support.ACCOUNTS)."""
    require_provider()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    provider = TestProvider(tmp_path_factory.mktemp("oidc-browser"), redirect_uris=[f"{base}/sign-in/callback"],
                            post_logout_redirect_uris=[f"{base}/sign-in"])
    provider.start()
    try:
        with serve({"DOST_OIDC_ISSUER": provider.issuer, "DOST_OIDC_CLIENT_ID": CLIENT_ID,
                    "DOST_OIDC_CLIENT_SECRET": CLIENT_SECRET}, port=port) as server:
            # oidc-provider's own development pages ask Google for a font, which this closed network cannot reach:
            # their console is not this app's.
            server.foreign_origin = provider.issuer
            yield server
    finally:
        provider.close()


@pytest.fixture
def ui_for(chromium_browser, axe_source, screenshot_dir, request):
    """Ui helpers bound to one of this module's servers."""
    opened = []

    def make(server) -> support.Ui:
        session = support.Ui(chromium_browser, server, axe_source, test_name=request.node.name)
        opened.append(session)
        return session

    yield make
    problems = [problem for session in opened for problem in session.close()
                if not problem.startswith(getattr(session.server, "foreign_origin", None) or "\0")]
    assert not problems, "browser console reported errors:\n" + "\n".join(problems)


def _to_provider(page, ui) -> None:
    page.goto("/sign-in")
    ui.check(page, "sign-in at the national login")
    page.get_by_role("link", name="Milli giriş sistemi ilə daxil olmaq").click()


def _at_oidc_provider(page, ui, account: str) -> None:
    """oidc-provider's development login (any password) and consent screens."""
    _to_provider(page, ui)
    page.locator("input[name=login]").fill(account)
    page.locator("input[name=password]").fill("any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def _grant_to_delegate_card(page) -> None:
    """The seal holder's grant of the SSŞ service to card 1000000002 (the in-app wizard, as in the main journeys)."""
    card, _pin, fin = DELEGATE_CARD
    page.locator("nav.tabs").get_by_role("link", name="Səlahiyyətlərin verilməsi").click()
    page.get_by_label("Xidmətin adı", exact=True).select_option("ssn_certificate")
    page.get_by_role("button", name="Növbəti >>").click()
    page.get_by_label("Səlahiyyətin tipi", exact=True).select_option("card")
    page.get_by_role("button", name="Növbəti >>").click()
    page.get_by_label("Kartın nömrəsi", exact=True).fill(card)
    page.get_by_label("FİN", exact=True).fill(fin)
    page.get_by_role("button", name="Təsdiqlə").click()
    page.locator("#flash-region", has_text="Səlahiyyət verildi").wait_for()


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_independent_provider_card_seal_holder_then_delegate_then_sign_out(independent, ui_for, js):
    ui = ui_for(independent)
    page = ui.page(js=js)
    _at_oidc_provider(page, ui, "card-seal-a")
    page.wait_for_url(re.compile(r"/insurer$"))
    assert "Möhür səlahiyyəti" in page.locator(".who").inner_text()
    ui.check(page, "insurer page after the national login")
    if js:
        # Once per server (the grant stays): the delegate then has exactly that service.
        _grant_to_delegate_card(page)
        delegate = ui.page(js=js)
        _at_oidc_provider(delegate, ui, "card-delegate-a")
        delegate.wait_for_url(re.compile(r"/insurer$"))
        assert "Səlahiyyət verilmiş şəxs" in delegate.locator(".who").inner_text()
        assert delegate.locator("nav.tabs").get_by_role("link", name="Səlahiyyətlərin verilməsi").count() == 0

    # ÇIXIŞ: the app's session ends, then the provider's (its own confirmation page), then back to /sign-in.
    page.get_by_role("button", name="ÇIXIŞ").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(re.compile(r"/sign-in(\?.*)?$"))
    assert "Siz xidmətdən çıxdınız." in page.content()
    page.goto("/insurer")
    page.wait_for_url(re.compile(r"/sign-in"))


def test_independent_provider_asan_seal_holder_and_a_refusal(independent, ui_for):
    ui = ui_for(independent)
    page = ui.page()
    _at_oidc_provider(page, ui, "asan-seal-b")
    page.wait_for_url(re.compile(r"/insurer$"))
    assert "ŞİRVAN ÇAY" in page.content()

    refused = ui.page()
    _at_oidc_provider(refused, ui, "expired")
    refused.get_by_role("heading", name="Xidmətə giriş alınmadı").wait_for()
    assert "etibarlılıq müddəti" in refused.content()
    ui.check(refused, "national login refused")


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_demo_provider_card_then_asan_imza_on_its_phone(live_server, ui_for, js):
    """The suite's own server signs in at the demo identity provider, as `make run` does."""
    ui = ui_for(live_server)
    page = ui.page(js=js)
    _to_provider(page, ui)
    ui.check(page, "demo provider: sign-in")
    page.get_by_label("Kartın nömrəsi").fill(SEAL_CARD[0])
    page.get_by_label("PIN kod").fill("0000")
    page.get_by_role("button", name="Daxil ol").click()
    page.get_by_text("Kartın nömrəsi və ya PIN kod yanlışdır.").wait_for()
    page.get_by_label("PIN kod").fill(SEAL_CARD[1])
    page.get_by_role("button", name="Daxil ol").click()
    page.wait_for_url(re.compile(r"/insurer$"))
    assert "Möhür səlahiyyəti" in page.locator(".who").inner_text()
    page.get_by_role("button", name="ÇIXIŞ").click()
    page.wait_for_url(re.compile(r"/sign-in(\?.*)?$"))

    mobile, user_id = "+994552345678", "200001"
    _to_provider(page, ui)
    page.get_by_role("link", name="Asan imza ilə daxil olmaq").click()
    page.get_by_label("Mobil nömrə").fill(mobile)
    page.get_by_label("İstifadəçi ID").fill(user_id)
    page.get_by_role("button", name="Daxil ol").click()
    code = page.locator(".verification-code").inner_text().strip()
    phone = ui.page(js=js)
    phone.goto(f"{live_server.url}/demo-idp/asan-phone?mobile={mobile.replace('+', '%2B')}")
    assert code in phone.content()
    phone.get_by_role("button", name="Təsdiqlə").click()
    phone.get_by_text("Sorğu təsdiqləndi.").wait_for()
    if not js:
        page.get_by_role("link", name="Təsdiqi yoxla").click()
    page.wait_for_url(re.compile(r"/insurer$"))
    assert "ŞİRVAN ÇAY" in page.content()
