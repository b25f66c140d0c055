"""DOST staff in Chromium: an employer's confirmed application processed to delivered (agent verifies and
orders, back office marks it ready, agent hands it over), with JavaScript on and off; sign-in needs the TOTP
code of the demo secret."""

from __future__ import annotations

import re

import pytest

from tests.browser.support import sign_in_staff, submit_application

STEPS = [
    ("agent", "Yoxla: məşğulluq və şəhadətnamə", "Yoxlanılıb"),
    ("agent", "Şəhadətnaməni sifariş et", "Şəhadətnamə sifariş edilib"),
    ("backoffice", "Hazırlandı", "Hazırdır, təhvil verilməyi gözləyir"),
    ("agent", "Təhvil ver", "Təhvil verilib"),
]


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_staff_process_to_delivered(ui, demo, js):
    person = demo.take()
    employer = ui.page(js=True)
    application_id, number = submit_application(employer, ui, person)

    staff = {"agent": ui.page(js=js), "backoffice": ui.page(js=js)}
    sign_in_staff(staff["agent"], "agent.bak1")
    ui.check(staff["agent"], "staff: queue (agent)")
    sign_in_staff(staff["backoffice"], "backoffice.dsmf")
    ui.check(staff["backoffice"], "staff: queue (back office)")

    agent = staff["agent"]
    row = agent.locator("#queue-results tbody tr", has_text=number)
    row.get_by_role("link", name="Ətraflı baxış").click()
    agent.wait_for_url(re.compile(rf"/staff/applications/{application_id}$"))
    ui.check(agent, "staff: application (submitted)")
    if js:
        ui.shot(agent, "13-staff-application", walkthrough=True)

    for who, button, status in STEPS:
        page = staff[who]
        if not page.url.endswith(f"/staff/applications/{application_id}"):
            page.goto(f"/staff/applications/{application_id}")
        else:
            page.reload()
        page.locator("#application-panel").get_by_role("button", name=button).click()
        page.locator(".application-head .badge--status", has_text=status).wait_for()
        ui.check(page, f"staff: application after «{button}»")

    employer.goto(f"/ssh/{application_id}")
    assert "Təhvil verilib" in employer.locator(".application-detail .badge").first.inner_text()
