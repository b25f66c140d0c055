"""Layout in Chromium: the main pages at 360, 768 and 1280 px (screenshots; the page never scrolls sideways —
wide tables scroll inside .table-wrap; axe-core at every width), the print stylesheet of REYESTR and of the
application details, and the Video təlimat walkthrough."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from tests.browser.support import (
    REASON_LOST,
    fill_wizard,
    open_registry,
    sign_in_card,
    staff_page,
    submit_application,
)

WIDTHS = [360, 768, 1280]


@pytest.fixture(scope="module")
def confirmed(chromium_browser, live_server, axe_source, screenshot_dir, demo):
    """One confirmed application and one draft of insurer A, for the pages that show them."""
    from tests.browser.support import Ui

    ui = Ui(chromium_browser, live_server, axe_source, test_name="layout-setup")
    try:
        page = ui.page()
        application_id, number = submit_application(page, ui, demo.take())
        page.goto("/ssh/")
        fill_wizard(page, ui, demo.take(), REASON_LOST)
        page.get_by_role("button", name="Yadda saxla").click()
        page.wait_for_url(re.compile(r"/ssh/$"))
        verify_url = None
        with page.expect_download() as info:
            page.goto(f"/ssh/?selected={application_id}")
            page.locator("#operations").get_by_role("button", name="Bildirişi yüklə").click()
        from pathlib import Path

        from tests.browser.support import decode_qr, render_pdf_page

        verify_url = decode_qr(render_pdf_page(Path(info.value.path()).read_bytes()))[0]
    finally:
        ui.close()
    return {"id": application_id, "number": number, "verify": verify_url}


def visit(ui, page, path: str, label: str, width: int) -> None:
    page.goto(path)
    page.wait_for_load_state("load")
    ui.assert_no_overflow(page, label)
    ui.check(page, f"{label} at {width} px")
    shot = ui.shot(page, f"layout-{width}-{label}", full_page=True)
    assert shot.stat().st_size > 1000


@pytest.mark.parametrize("width", WIDTHS)
def test_employer_pages_hold_their_layout(ui, confirmed, width):
    page = ui.page(width=width, height=900, mobile=width < 700)
    visit(ui, page, "/sign-in", "sign-in", width)
    visit(ui, page, "/sign-in/national", "national-login", width)
    sign_in_card(page)
    for path, label in [
        ("/insurer", "insurer"),
        ("/ssh/?search=1", "registry"),
        ("/ssh/new", "wizard"),
        (f"/ssh/{confirmed['id']}", "detail"),
        ("/grants/", "grants"),
        ("/grants/registry?filter=all", "grants-registry"),
        ("/inbox/", "inbox"),
        ("/feedback", "feedback"),
        ("/video", "video"),
        ("/manual", "manual"),
    ]:
        visit(ui, page, path, label, width)
    # The wizard's widest step: the person found by AXTAR.
    page.goto("/ssh/new")
    page.get_by_role("button", name="NÖVBƏTİ").click()
    page.get_by_role("heading", name="Vəsiqə məlumatları").wait_for()
    ui.assert_no_overflow(page, "wizard identity step")


@pytest.mark.parametrize("width", WIDTHS)
def test_staff_and_public_pages_hold_their_layout(ui, confirmed, width):
    page = ui.page(width=width, height=900, mobile=width < 700)
    visit(ui, page, "/verify", "verify", width)
    visit(ui, page, "/verify/scan", "verify-scan", width)
    visit(ui, page, confirmed["verify"], "verify-result", width)
    visit(ui, page, "/staff/sign-in", "staff-sign-in", width)
    page = staff_page(ui, "agent.bak1", width=width, height=900, mobile=width < 700)
    visit(ui, page, "/staff/", "staff-queue", width)
    visit(ui, page, f"/staff/applications/{confirmed['id']}", "staff-application", width)
    visit(ui, page, "/staff/reports", "staff-reports", width)


def print_pdf(page) -> PdfReader:
    return PdfReader(io.BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))


def test_print_registry_and_details(ui, confirmed):
    """REYESTR prints landscape with only the table; the details print portrait without navigation."""
    page = ui.page()
    sign_in_card(page)
    open_registry(page)
    page.emulate_media(media="print")
    for hidden in (".site-header", "nav.tabs", ".wizard-nav", ".search-panel", "#operations", ".pager",
                   ".service-links"):
        assert not page.locator(hidden).first.is_visible(), hidden
    assert page.locator(".registry-table").is_visible()
    assert not page.locator(".registry-table input[type=radio]").first.is_visible()
    first = print_pdf(page).pages[0].mediabox
    assert first.width > first.height  # A4 landscape

    page.emulate_media(media="screen")
    page.goto(f"/ssh/{confirmed['id']}")
    page.emulate_media(media="print")
    assert not page.locator(".wizard-nav").is_visible()
    assert not page.locator(".application-detail .actions").is_visible()
    assert page.get_by_text(confirmed["number"]).first.is_visible()
    reader = print_pdf(page)
    box = reader.pages[0].mediabox
    assert box.height > box.width  # portrait
    assert confirmed["number"] in reader.pages[0].extract_text()


def test_video_walkthrough(ui):
    """Video təlimat in the header opens the numbered walkthrough built from the suite's screenshots."""
    page = ui.page()
    sign_in_card(page)
    page.get_by_role("link", name="Video təlimat").click()
    page.wait_for_url(re.compile(r"/video$"))
    steps = page.locator(".walkthrough__step")
    assert steps.count() >= 10
    for image in page.locator(".walkthrough__figure img").all():
        image.scroll_into_view_if_needed()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        assert image.get_attribute("alt")
    page.get_by_role("link", name="Növbəti →").first.click()
    page.wait_for_url(re.compile(r"#step-2$"))
    ui.check(page, "Video təlimat")
