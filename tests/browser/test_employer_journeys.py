"""Employer journeys in Chromium against the live server, each with JavaScript on and off (progressive
enhancement): sign-in by card and by Asan İmza, the SSŞ wizard to a draft, Axtarış in REYESTR, Təsdiqlə with
the PIN, Bildirişi yüklə (the PDF's QR code leads to the verification page, opened on a 360-px phone),
Qaralamadan sil, and delegation to another credential which then signs in."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from pypdf import PdfReader

from tests.browser.support import (
    DELEGATE_CARD,
    REASON_DAMAGED,
    REASON_LOST,
    SEAL_ASAN,
    SEAL_CARD,
    WALKTHROUGH_DIR,
    decode_qr,
    expect_heading,
    fill_wizard,
    open_registry,
    render_pdf_page,
    row_radio,
    run_operation,
    save_png,
    search_registry,
    sign_in_card,
    sign_step,
    to_provider,
    wait_for_message,
)
from tests.browser.support import SCREENSHOTS as WALKTHROUGH

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])


@JS
def test_sign_in_with_card(ui, js):
    page = ui.page(js=js)
    page.goto("/sign-in")
    ui.check(page, "sign-in")
    to_provider(page)
    ui.check(page, "national login: card")
    if js:
        ui.shot(page, "01-sign-in", walkthrough=True)
    page.get_by_label("Kartın nömrəsi").fill(SEAL_CARD[0])
    page.get_by_label("PIN kod").fill("0000")
    page.get_by_role("button", name="Daxil ol").click()
    alert = page.locator("#pin-error")
    alert.wait_for()
    assert "Kartın nömrəsi və ya PIN kod yanlışdır." in alert.inner_text()
    ui.check(page, "national login with an error")
    # The PIN is never sent back; the card number is kept.
    assert page.get_by_label("PIN kod").input_value() == ""
    page.get_by_label("PIN kod").fill(SEAL_CARD[1])
    page.get_by_role("button", name="Daxil ol").click()
    page.wait_for_url(re.compile(r"/insurer$"))
    assert "Möhür səlahiyyəti" in page.locator(".who").inner_text()
    ui.check(page, "insurer page")
    # ÇIXIŞ ends the session here and at the national login, which sends the browser back.
    page.get_by_role("button", name="ÇIXIŞ").click()
    page.wait_for_url(re.compile(r"/sign-in(\?state=[^&]+)?$"))
    page.locator("#flash-region", has_text="Siz xidmətdən çıxdınız.").wait_for()


@JS
def test_sign_in_with_asan_imza(ui, js):
    page = ui.page(js=js)
    to_provider(page)
    page.get_by_role("link", name="Asan imza ilə daxil olmaq").click()
    page.get_by_label("Mobil nömrə").fill(SEAL_ASAN[0])
    page.get_by_label("İstifadəçi ID").fill(SEAL_ASAN[1])
    ui.check(page, "national login: Asan İmza")
    page.get_by_role("button", name="Daxil ol").click()
    page.wait_for_url(re.compile(r"/demo-idp/asan/[^/]+$"))
    code = page.locator(".verification-code").inner_text().strip()
    assert re.fullmatch(r"\d{4}", code)
    ui.check(page, "Asan İmza: waiting")
    if js:
        ui.shot(page, "02-asan-wait", walkthrough=True)

    # The person's phone: the demo identity provider's simulated phone, on another device.
    phone = ui.page(js=js, width=360, height=740, mobile=True)
    phone.goto(f"/demo-idp/asan-phone?mobile={quote(SEAL_ASAN[0])}")
    request = phone.locator("form.phone__request", has_text=code)
    ui.check(phone, "Asan İmza phone")
    request.get_by_role("button", name="Təsdiqlə").click()
    phone.locator(".alert--success").wait_for()

    if js:
        page.wait_for_url(re.compile(r"/insurer$"))  # the waiting page polls and signs in by itself
    else:
        page.get_by_role("link", name="Təsdiqi yoxla").click()
        page.wait_for_url(re.compile(r"/insurer$"))
    assert "Möhür səlahiyyəti" in page.locator(".who").inner_text()


@JS
def test_application_journey(ui, demo, js):
    """Draft → Axtarış → Təsdiqlə → Bildirişi yüklə (QR) → verification on a phone; Qaralamadan sil."""
    person, other = demo.take(searchable=True), demo.take()
    shots = js
    page = ui.page(js=js)
    sign_in_card(page)
    if shots:
        ui.shot(page, "03-insurer", walkthrough=True)
    open_registry(page)
    ui.check(page, "REYESTR")

    fill_wizard(page, ui, person, REASON_LOST, shots=shots)
    page.get_by_role("button", name="Yadda saxla").click()
    page.wait_for_url(re.compile(r"/ssh/$"))
    wait_for_message(page, "Müraciət qaralama kimi reyestrdə saxlanıldı.")

    search_registry(page, ui, person.surname)
    assert "surname=" in page.url  # the URL holds the search: back, forward and bookmarks work
    rows = page.locator("#registry-results tbody tr")
    assert rows.count() == 1
    assert "Qaralama" in rows.first.inner_text()
    ui.check(page, "REYESTR: Axtarış")
    if shots:
        ui.shot(page, "07-registry-search", walkthrough=True)

    run_operation(page, ui, person, "Təsdiqlə")
    page.wait_for_url(re.compile(r"/ssh/\d+/sign$"))
    application_id, number = sign_step(page, ui, shots=shots)
    ui.check(page, "Ətraflı baxış")
    if shots:
        ui.shot(page, "09-detail", walkthrough=True)

    page.goto(f"/ssh/?selected={application_id}")
    with page.expect_download() as download_info:
        run_operation(page, ui, person, "Bildirişi yüklə")
    download = download_info.value
    assert download.suggested_filename == f"bildiriş-{number}.pdf"
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    text = PdfReader(download.path()).pages[0].extract_text()
    assert number in text
    image = render_pdf_page(pdf)
    urls = decode_qr(image)
    assert len(urls) == 1 and re.fullmatch(re.escape(ui.url) + r"/v/[\w.\-~%]+", urls[0]), urls
    if shots and WALKTHROUGH:
        import io

        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        save_png(buffer.getvalue(), WALKTHROUGH_DIR / "10-notice.png", width=900)

    # Qaralamadan sil on another draft.
    page.goto("/ssh/")
    fill_wizard(page, ui, other, REASON_DAMAGED)
    page.get_by_role("button", name="Yadda saxla").click()
    page.wait_for_url(re.compile(r"/ssh/$"))
    run_operation(page, ui, other, "Qaralamadan sil")
    page.wait_for_url(re.compile(r"/ssh/\d+/delete$"))
    expect_heading(page, "Qaralamanı silmək istədiyinizə əminsiniz?")
    ui.check(page, "Qaralamadan sil: confirmation")
    page.get_by_role("button", name="Bəli, sil").click()
    page.wait_for_url(re.compile(r"/ssh/$"))
    wait_for_message(page, "Qaralama silindi.")
    assert row_radio(page, other).count() == 0
    assert row_radio(page, person).count() == 1

    # The verifier scans the QR code with a phone.
    phone = ui.page(js=js, width=360, height=740, mobile=True)
    phone.goto(urls[0])
    verdict = phone.locator(".verdict")
    verdict.wait_for()
    assert "verdict--ok" in verdict.get_attribute("class")
    assert number in phone.locator(".verify-facts").inner_text()
    ui.check(phone, "verification result (360 px)")
    if js:
        ui.assert_no_overflow(phone, "verification result")
        ui.shot(phone, "11-verify-phone", walkthrough=True, full_page=True)


@JS
def test_delegation_and_delegate_sign_in(ui, js):
    """Səlahiyyətlərin verilməsi to card 1000000002 (no seal), which then signs in; × revokes it again."""
    card, pin, fin = DELEGATE_CARD
    page = ui.page(js=js)
    page.on("dialog", lambda dialog: dialog.accept())  # × asks through hx-confirm
    sign_in_card(page)
    page.locator("nav.tabs").get_by_role("link", name="Səlahiyyətlərin verilməsi").click()
    page.wait_for_url(re.compile(r"/grants/$"))
    ui.check(page, "grants: step 1")
    page.get_by_label("Xidmətin adı", exact=True).select_option("ssn_certificate")
    page.get_by_role("button", name="Növbəti >>").click()
    page.get_by_label("Səlahiyyətin tipi", exact=True).wait_for()
    page.get_by_label("Səlahiyyətin tipi", exact=True).select_option("card")
    ui.check(page, "grants: step 2")
    page.get_by_role("button", name="Növbəti >>").click()
    page.get_by_label("Kartın nömrəsi", exact=True).fill(card)
    page.get_by_label("FİN", exact=True).fill(fin)
    ui.check(page, "grants: step 3")
    if js:
        ui.shot(page, "12-grant", walkthrough=True)
    page.get_by_role("button", name="Təsdiqlə").click()
    page.wait_for_url(re.compile(r"/grants/registry\?"))
    page.locator("#flash-region", has_text="Səlahiyyət verildi").wait_for()
    row = page.locator("tr.grants-row--new")
    assert card in row.inner_text() and "Qüvvədədir" in row.inner_text()
    ui.check(page, "grants registry")

    delegate = ui.page(js=js)
    sign_in_card(delegate, (card, pin))
    assert "Səlahiyyət verilmiş şəxs" in delegate.locator(".who").inner_text()
    tabs = delegate.locator("nav.tabs")
    assert tabs.get_by_role("link", name="Səlahiyyətlərin verilməsi").count() == 0
    open_registry(delegate)
    ui.check(delegate, "delegate: REYESTR")

    # × revokes; without JavaScript it asks on a page of its own.
    row.get_by_role("link", name=re.compile("Ləğv et")).click()
    if js:
        row.wait_for(state="detached")
        page.locator("#toasts", has_text="Səlahiyyət ləğv edildi").wait_for()
    else:
        page.wait_for_url(re.compile(r"/grants/\d+/revoke"))
        ui.check(page, "grants: revoke confirmation")
        page.get_by_role("button", name="Bəli, ləğv et").click()
        page.locator("#flash-region", has_text="Səlahiyyət ləğv edildi").wait_for()
    delegate.reload()
    assert delegate.locator("nav.tabs").get_by_role("link", name=re.compile("dublikatının verilməsi$")).count() == 0
