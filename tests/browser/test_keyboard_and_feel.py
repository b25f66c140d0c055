"""How the pages feel in a real browser: the wizard by keyboard alone with a visible focus, errors announced,
status never by colour alone, busy indicators on slow requests, no layout jumps when fragments swap, and the
browser's back and forward buttons through REYESTR and the wizard."""

from __future__ import annotations

import re

from tests.browser.support import (
    REASON_DOCUMENT,
    az_lower,
    expect_heading,
    fill_wizard,
    open_registry,
    search_registry,
    sign_in_card,
)

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const style = getComputedStyle(el);
  return {tag: el.tagName.toLowerCase(), type: el.type || "", name: el.name || "", value: el.value || "",
          text: (el.innerText || el.value || "").trim(),
          label: el.labels && el.labels[0] ? el.labels[0].innerText.trim() : "",
          outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
          ring: style.boxShadow !== "none"};
}"""


def focused(page):
    return page.evaluate(FOCUSED)


def tab_to(page, matches, limit: int = 80):
    """Press Tab until the focused element satisfies `matches`; its focus must be visible on the way."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        element = focused(page)
        if element is None:
            continue
        assert element["outline"] or element["ring"], f"focus is not visible on {element}"
        if matches(element):
            return element
    raise AssertionError("not reachable with Tab")


def button(text):
    return lambda element: element["tag"] == "button" and element["text"] == text


def field(label):
    return lambda element: element["tag"] in ("input", "select") and element["label"].startswith(label)


def test_wizard_by_keyboard_alone(ui, demo):
    """Tab, Enter and Space complete the wizard to a saved draft; errors are announced and take the focus."""
    person = demo.take()
    page = ui.page()
    sign_in_card(page)
    page.goto("/ssh/new")
    expect_heading(page, "DSMF məlumatları")

    tab_to(page, button("NÖVBƏTİ"))
    page.keyboard.press("Enter")
    expect_heading(page, "Vəsiqə məlumatları")
    if person.document_type == "migration":
        tab_to(page, field("Sənədin tipi"))
        page.keyboard.press("ArrowDown")
        assert page.get_by_label("Sənədin tipi").input_value() == "migration"

    # NÖVBƏTİ with nothing filled in: the error is a live region beside the field, and the field gets the focus.
    tab_to(page, button("NÖVBƏTİ"))
    page.keyboard.press("Enter")
    error = page.locator("#fin-error")
    error.wait_for()
    assert error.get_attribute("role") == "alert"
    assert page.get_by_label("FİN", exact=True).get_attribute("aria-describedby") == "fin-error"
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'fin'")
    ui.check(page, "wizard: errors")

    page.keyboard.type(person.fin)
    tab_to(page, field("SSN"))
    page.keyboard.type(person.ssn)
    page.keyboard.press("Enter")  # the first button of the step: AXTAR
    page.locator(f"#p-surname[value='{person.surname}']").wait_for(state="attached")
    tab_to(page, button("NÖVBƏTİ"))
    page.keyboard.press("Enter")
    expect_heading(page, "Müraciət səbəbi")

    radio = tab_to(page, lambda element: element["type"] == "radio")
    assert radio["name"] == "reason"
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('input[name=reason]:checked') !== null")
    tab_to(page, button("Yadda saxla"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ssh/$"))
    page.locator("#flash-region", has_text="qaralama").wait_for()


def test_enter_in_the_pin_field_signs(ui, demo):
    """Enter in the last field of a step moves forward (a hidden default button), never back to Əvvəlki."""
    person = demo.take()
    page = ui.page()
    sign_in_card(page)
    open_registry(page)
    fill_wizard(page, ui, person, REASON_DOCUMENT)
    page.get_by_label(REASON_DOCUMENT).press("Enter")
    expect_heading(page, "Müraciəti imzalayın")
    page.get_by_label("PIN kod").fill("1111")
    page.get_by_label("PIN kod").press("Enter")
    page.wait_for_url(re.compile(r"/ssh/\d+$"))


def test_status_is_never_told_by_colour_alone(ui, demo):
    page = ui.page()
    sign_in_card(page)
    open_registry(page)
    badges = page.locator(".badge").all()
    for badge in badges:
        text = badge.inner_text().strip()
        icon = badge.locator("[aria-hidden=true]")
        assert icon.count() == 1 and len(text) > len(icon.inner_text().strip()) + 2, text


def test_slow_requests_show_an_indicator(ui, demo):
    """While an htmx request is on its way, its indicator is visible (here the server is slowed on purpose)."""
    person = demo.take()
    page = ui.page()
    sign_in_card(page)
    page.goto("/ssh/new")
    page.get_by_role("button", name="NÖVBƏTİ").click()
    expect_heading(page, "Vəsiqə məlumatları")
    page.get_by_label("Sənədin tipi").select_option(person.document_type)
    page.get_by_label("FİN", exact=True).fill(person.fin)
    page.get_by_label("SSN", exact=True).fill(person.ssn)

    release = []
    page.route("**/ssh/wizard", lambda route: release.append(route), times=1)
    page.get_by_role("button", name="AXTAR").click()
    page.wait_for_function("() => document.querySelector('#wizard .htmx-request') !== null")
    indicator = page.locator("#wizard-busy")
    assert indicator.is_visible()
    page.wait_for_function("() => document.documentElement.classList.contains('is-busy')")
    assert page.locator("#wizard").get_attribute("aria-busy") == "true"
    release[0].continue_()
    page.locator(f"#p-surname[value='{person.surname}']").wait_for(state="attached")
    indicator.wait_for(state="hidden")  # after htmx settles (it keeps the old classes for 20 ms)
    page.wait_for_function("() => !document.documentElement.classList.contains('is-busy')")


def test_no_layout_jump_when_fragments_swap(ui, demo):
    """Selecting a row swaps ƏMƏLİYYATLAR in place at the same height; a narrower search keeps the results'
    minimum height, so the page below does not jump."""
    page = ui.page()
    sign_in_card(page)
    open_registry(page)
    radios = page.locator("#registry-results input[type=radio]")
    if radios.count() == 0:
        fill_wizard(page, ui, demo.take(), REASON_DOCUMENT)
        page.get_by_role("button", name="Yadda saxla").click()
        page.wait_for_url(re.compile(r"/ssh/$"))
    operations = page.locator("#operations")
    before = operations.bounding_box()
    radios.first.check()
    page.locator("#operations-title", has_text="—").wait_for()
    after = operations.bounding_box()
    assert after["height"] == before["height"]

    results = page.locator("#registry-results")
    top = results.bounding_box()["y"]
    search = page.locator("details.search-panel")
    search.locator("summary").click()
    top = results.bounding_box()["y"]
    page.get_by_label("Soyadı", exact=True).fill("zzzz-yoxdur")
    page.wait_for_url(re.compile(r"surname=zzzz"))
    page.locator("#registry-results", has_text="Müraciət tapılmadı.").wait_for()
    box = results.bounding_box()
    assert box["y"] == top
    assert box["height"] >= 24 * 16 - 1  # .registry-results { min-height: 24rem }


def test_back_and_forward_through_registry_and_wizard(ui, demo):
    """The registry's URL holds the search (hx-push-url), so back and forward restore it; the wizard's steps
    are POSTs (personal data never goes into URLs or history), so back from any step returns to REYESTR."""
    person = demo.take(searchable=True)
    page = ui.page()
    sign_in_card(page)
    open_registry(page)
    fill_wizard(page, ui, person, REASON_DOCUMENT)
    page.go_back()
    page.wait_for_url(re.compile(r"/ssh/$"))
    page.go_forward()
    page.wait_for_url(re.compile(r"/ssh/new$"))
    expect_heading(page, "DSMF məlumatları")  # a fresh wizard, nothing half-posted is replayed
    page.goto("/ssh/")
    fill_wizard(page, ui, person, REASON_DOCUMENT)
    page.get_by_role("button", name="Yadda saxla").click()
    page.wait_for_url(re.compile(r"/ssh/$"))

    search_registry(page, ui, person.surname)
    searched = page.url
    assert "surname=" in searched
    assert page.locator("#registry-results tbody tr").count() == 1
    page.go_back()
    page.wait_for_url(lambda url: "surname=" not in url)
    page.locator("details.search-panel").wait_for()
    assert page.get_by_label("Soyadı", exact=True).input_value() == ""
    page.go_forward()
    page.wait_for_url(searched)
    page.locator("#registry-results tbody tr").first.wait_for()
    assert page.locator("#registry-results tbody tr").count() == 1
    assert page.get_by_label("Soyadı", exact=True).input_value() == az_lower(person.surname)
