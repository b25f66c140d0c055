"""Helpers of the browser suite: browser contexts with JavaScript on or off, the axe-core check, layout checks,
screenshots for the walkthrough, staff TOTP codes, the notice's QR code and the employer journeys' steps."""

from __future__ import annotations

import base64
import io
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH_DIR = ROOT / "dost" / "static" / "walkthrough"
SCREENSHOTS = os.environ.get("DOST_SCREENSHOTS") == "1"
# Screenshots that are not part of the walkthrough: DOST_SCREENSHOT_DIR, else pytest's temporary directory.
SCREENSHOT_DIR: Path | None = Path(os.environ["DOST_SCREENSHOT_DIR"]) if os.environ.get("DOST_SCREENSHOT_DIR") else None
SERIOUS = ("serious", "critical")
EXPECTED_CONSOLE = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d|"
                              r"Response Status Error Code 4\d\d from ")

# axe-core findings of the whole session: page state → serious/critical violations, and minor counts.
AXE_RESULTS: dict[str, list[str]] = {}
AXE_MINOR: dict[str, list[str]] = {}

INSURER_A = "9802091761"  # "MƏKTƏBİ QURUP": seal card 1000000001/1111; office 188 → 1 saylı Bakı DOST Mərkəzi
SEAL_CARD = ("1000000001", "1111")
SEAL_ASAN = ("+994501234567", "100001")
DELEGATE_CARD = ("1000000002", "2222", "6PL2M3T")  # insurer A's credential without seal authority
STAFF_PASSWORDS = {"agent.bak1": "Agent-Baki1-2026", "backoffice.dsmf": "Arxa-Ofis-2026"}

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map(n => n.target.join(" "))}));
}"""

# Elements wider than the viewport, outside horizontal scroll containers (.table-wrap).
OVERFLOW = """() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width) { return []; }
  const offenders = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.parentElement && el.parentElement.closest(".table-wrap")) { continue; }
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1) {
      offenders.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "") +
        " right=" + Math.round(box.right));
    }
  }
  return offenders.length ? offenders.slice(0, 8) : ["scrollWidth " + document.documentElement.scrollWidth];
}"""


def unavailable(reason: str):
    """Skip locally; fail where the browser suite is required (CI: DOST_REQUIRE_BROWSER=1)."""
    if os.environ.get("DOST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser suite required but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Person:
    fin: str
    ssn: str
    surname: str
    name: str
    document_type: str


class DemoData:
    """Employees of insurer A (active contract and certificate), handed out one per journey. Journeys that find
    their application by typing the surname get a person whose surname nobody else has."""

    def __init__(self, people: list[Person]):
        self.searchable = [p for p in people if sum(other.surname == p.surname for other in people) == 1]
        self.others = [p for p in people if p not in self.searchable]

    @classmethod
    def load(cls, database_url: str) -> DemoData:
        from dost.models import Certificate, CertificateStatus, EmploymentContract, Insurer
        from dost.models import Person as PersonRow

        engine = create_engine(database_url)
        try:
            with Session(engine) as session:
                insurer = session.scalar(select(Insurer).where(Insurer.voen == INSURER_A))
                rows = session.execute(
                    select(PersonRow, Certificate)
                    .join(EmploymentContract, EmploymentContract.person_id == PersonRow.id)
                    .join(Certificate, Certificate.person_id == PersonRow.id)
                    .where(EmploymentContract.insurer_id == insurer.id, EmploymentContract.end_date.is_(None),
                           Certificate.status == CertificateStatus.ACTIVE)
                    .order_by(PersonRow.id)
                ).all()
                people = [Person(p.fin, c.ssn, p.surname, p.name, p.document_type.value) for p, c in rows]
        finally:
            engine.dispose()
        return cls(people)

    def take(self, searchable: bool = False) -> Person:
        """A person nobody has applied for yet in this session."""
        pool = self.searchable if searchable or not self.others else self.others
        return pool.pop(0)


def az_lower(text: str) -> str:
    """Azerbaijani lower case (I → ı, İ → i), as a person types it."""
    return text.replace("I", "ı").replace("İ", "i").lower()


class Ui:
    """Browser contexts for one test; collects console errors (CSP violations, script errors)."""

    def __init__(self, browser, server, axe_source: str, test_name: str):
        self.browser = browser
        self.server = server
        self.axe_source = axe_source
        self.test_name = test_name
        self.contexts = []
        self.problems: list[str] = []
        self._js: dict[int, bool] = {}

    @property
    def url(self) -> str:
        return self.server.url

    def page(self, js: bool = True, width: int = 1280, height: int = 800, mobile: bool = False,
             storage_state: dict | None = None):
        """A page in a new browser context (its own cookies), with JavaScript on or off."""
        context = self.browser.new_context(
            base_url=self.server.url, java_script_enabled=js, viewport={"width": width, "height": height},
            accept_downloads=True, is_mobile=mobile, has_touch=mobile, device_scale_factor=1, locale="az-AZ",
            storage_state=storage_state,
        )
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        self._js[id(page)] = js

        def console(message):
            text = message.text
            # A 4xx answer to a form post is expected behaviour (the form shows the errors), not a problem;
            # htmx logs it too.
            if message.type == "error" and not EXPECTED_CONSOLE.search(text):
                self.problems.append(f"{page.url}: {text} [{message.location.get('url')}:"
                                     f"{message.location.get('lineNumber')}]")

        page.on("console", console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: {error}"))
        return page

    def js(self, page) -> bool:
        return self._js.get(id(page), True)

    def check(self, page, label: str) -> None:
        """axe-core on the page as it is now: no serious or critical violations."""
        if not self.js(page):
            return  # scripts cannot run in this context; the same templates are checked with JavaScript on
        page.wait_for_load_state("load")
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(self.axe_source)
        violations = page.evaluate(AXE_RUN)
        serious = [f"{v['impact']}: {v['id']} — {v['help']} — {v['nodes']}" for v in violations
                   if v["impact"] in SERIOUS]
        key = f"{self.test_name} · {label}"
        AXE_RESULTS[key] = serious
        AXE_MINOR[key] = [f"{v['impact']}: {v['id']} ({', '.join(v['nodes'][:2])})" for v in violations
                          if v["impact"] not in SERIOUS]
        assert not serious, f"axe-core on {label} ({page.url}):\n" + "\n".join(serious)

    def assert_no_overflow(self, page, label: str) -> None:
        """The page itself never scrolls sideways; wide tables scroll inside their .table-wrap."""
        offenders = page.evaluate(OVERFLOW)
        assert not offenders, f"{label} overflows {page.viewport_size['width']} px: {offenders}"

    def shot(self, page, name: str, walkthrough: bool = False, full_page: bool = False) -> Path:
        """A screenshot: into the walkthrough (dost/static/walkthrough) under DOST_SCREENSHOTS=1, else a temp dir."""
        png = capture(page, full_page)
        if walkthrough and SCREENSHOTS:
            return save_png(png, WALKTHROUGH_DIR / f"{name}.png")
        assert SCREENSHOT_DIR is not None
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOT_DIR / f"{name}.png"
        target.write_bytes(png)
        return target

    def close(self) -> list[str]:
        for context in self.contexts:
            context.close()
        return self.problems


def capture(page, full_page: bool = False) -> bytes:
    """A PNG through the DevTools protocol: page.screenshot() injects a <style> (caret, animations) that the app's
    CSP rightly blocks, which would show up as console errors."""
    cdp = page.context.new_cdp_session(page)
    try:
        params: dict = {"format": "png"}
        if full_page:
            size = cdp.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = cdp.send("Page.captureScreenshot", params)["data"]
    finally:
        cdp.detach()
    return base64.b64decode(data)


def save_png(png: bytes, target: Path, width: int | None = None) -> Path:
    """A small PNG: palette colours (UI screenshots need few), optionally scaled to a width."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if width and image.width != width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    image = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, optimize=True)
    return target


# --- staff second factor ------------------------------------------------------------------------------------------

_last_step: dict[str, int] = {}


def totp_code(username: str) -> str:
    """The authenticator code for the demo user, never one the server has already accepted (replay guard)."""
    from dost.demo import _totp_secret

    totp = pyotp.TOTP(_totp_secret(username))
    while True:
        current = int(time.time()) // 30
        for step in (current, current + 1):  # the server accepts one step of drift
            if step > _last_step.get(username, -1):
                _last_step[username] = step
                return totp.at(step * 30)
        time.sleep(30 - time.time() % 30 + 0.5)


# --- the notice ---------------------------------------------------------------------------------------------------


def render_pdf_page(pdf: bytes, width: int = 1240):
    """Page 1 of a PDF as a PIL image (pdfium, from the pypdfium2 wheel)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        scale = width / page.get_width()
        return page.render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def decode_qr(image) -> list[str]:
    """The texts of the QR codes in an image (zxing-cpp)."""
    import zxingcpp

    return [result.text for result in zxingcpp.read_barcodes(image.convert("L"))]


# --- employer steps -----------------------------------------------------------------------------------------------


def to_provider(page) -> None:
    """From the sign-in page to the national login (the demo identity provider's screens)."""
    page.goto("/sign-in")
    page.get_by_role("link", name="Milli giriş sistemi ilə daxil olmaq").click()
    page.wait_for_url(re.compile(r"/demo-idp/authorize\?"))


def sign_in_card(page, card: tuple[str, ...] = SEAL_CARD) -> None:
    """Elektron imza ilə daxil olmaq at the national login: card number and PIN, lands on the insurer page."""
    to_provider(page)
    page.get_by_label("Kartın nömrəsi").fill(card[0])
    page.get_by_label("PIN kod").fill(card[1])
    page.get_by_role("button", name="Daxil ol").click()
    page.wait_for_url(re.compile(r"/insurer$"))


def open_registry(page) -> None:
    page.get_by_role("link", name=re.compile("dublikatının verilməsi$")).first.click()
    page.wait_for_url(re.compile(r"/ssh/(\?.*)?$"))


def fill_wizard(page, ui: Ui, person: Person, reason: str, shots: bool = False) -> None:
    """QEYDİYYAT → NÖVBƏTİ → FİN, SSN, AXTAR → NÖVBƏTİ → reason: the wizard up to its last step."""
    page.get_by_role("link", name="QEYDİYYAT").first.click()
    page.wait_for_url(re.compile(r"/ssh/new"))
    expect_heading(page, "DSMF məlumatları")
    ui.check(page, "wizard: DSMF məlumatları")
    if shots:
        ui.shot(page, "04-wizard-dsmf", walkthrough=True)
    page.get_by_role("button", name="NÖVBƏTİ").click()
    expect_heading(page, "Vəsiqə məlumatları")
    page.get_by_label("Sənədin tipi").select_option(person.document_type)
    page.get_by_label("FİN", exact=True).fill(person.fin)
    page.get_by_label("SSN", exact=True).fill(person.ssn)
    page.get_by_role("button", name="AXTAR").click()
    surname = page.locator("#p-surname")
    surname_filled(page, person.surname)
    assert surname.input_value() == person.surname
    ui.check(page, "wizard: Vəsiqə məlumatları after AXTAR")
    if shots:
        ui.shot(page, "05-wizard-identity", walkthrough=True)
    page.get_by_role("button", name="NÖVBƏTİ").click()
    expect_heading(page, "Müraciət səbəbi")
    page.get_by_label(reason).check()
    ui.check(page, "wizard: Müraciət səbəbi")
    if shots:
        ui.shot(page, "06-wizard-reason", walkthrough=True)


def expect_heading(page, text: str) -> None:
    page.get_by_role("heading", name=text, exact=True).wait_for()


def surname_filled(page, surname: str) -> None:
    page.locator(f"#p-surname[value='{surname}']").wait_for(state="attached")


def search_registry(page, ui: Ui, surname: str) -> None:
    """Axtarış: open the search panel and type the surname in Azerbaijani lower case."""
    panel = page.locator("details.search-panel")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    field = page.get_by_label("Soyadı", exact=True)
    field.fill(az_lower(surname))
    if ui.js(page):
        # htmx searches as the person types; the URL follows the search (hx-push-url).
        page.wait_for_url(re.compile(r"surname="))
    else:
        page.locator("#registry-search").get_by_role("button", name="Axtar").click()
        page.wait_for_url(re.compile(r"surname="))
    page.locator("#registry-results tbody tr").first.wait_for()


def row_radio(page, person: Person):
    return page.get_by_role("radio", name=re.compile(f"Seç: {re.escape(person.surname)} {re.escape(person.name)}"))


def run_operation(page, ui: Ui, person: Person, operation: str) -> None:
    """Select the person's row in REYESTR and press an ƏMƏLİYYATLAR button."""
    row_radio(page, person).check()
    button = page.locator("#operations").get_by_role("button", name=operation, exact=True)
    if ui.js(page):
        page.locator("#operations-title", has_text=person.surname).wait_for()
        assert button.is_enabled()
    button.click()


def wait_for_message(page, text: str) -> None:
    """The outcome message: a toast (HX-Trigger on an in-place htmx swap) or the flash of the next page."""
    page.locator("#toasts, #flash-region", has_text=text).first.wait_for()


# Signed-in staff sessions (cookies), so that later tests need no new TOTP code (one per 30 s per user).
STAFF_STATE: dict[str, dict] = {}


def sign_in_staff(page, username: str) -> None:
    """Username, password and the current TOTP code on /staff/sign-in; remembers the session for staff_page()."""
    page.goto("/staff/sign-in")
    page.get_by_label("İstifadəçi adı").fill(username)
    page.get_by_label("Şifrə").fill(STAFF_PASSWORDS[username])
    page.get_by_label(re.compile("kod", re.IGNORECASE)).fill(totp_code(username))
    page.get_by_role("button", name="Daxil ol").click()
    page.wait_for_url(re.compile(r"/staff/(\?.*)?$"))
    STAFF_STATE[username] = page.context.storage_state()


def staff_page(ui: Ui, username: str, **options):
    """A page signed in as the staff user, reusing an earlier sign-in's session when there is one."""
    if username in STAFF_STATE:
        page = ui.page(storage_state=STAFF_STATE[username], **options)
        page.goto("/staff/")
        if re.search(r"/staff/(\?.*)?$", page.url):
            return page
    page = ui.page(**options)
    sign_in_staff(page, username)
    return page


REASON_LOST = "Dövlət sosial sığorta şəhadətnaməsinin itirilməsi"
REASON_DAMAGED = "Dövlət sosial sığorta şəhadətnaməsinin yararsız hala düşməsi"
REASON_DOCUMENT = "Şəxsiyyəti təsdiq edən sənəddəki dəyişiklik"


def sign_step(page, ui: Ui, pin: str = SEAL_CARD[1], shots: bool = False) -> tuple[int, str]:
    """The signing step: PIN, İmzala və təsdiqlə → Ətraflı baxış; returns the id and the registration number."""
    expect_heading(page, "Müraciəti imzalayın")
    ui.check(page, "signing step")
    page.get_by_label("PIN kod").fill(pin)
    if shots:
        ui.shot(page, "08-sign", walkthrough=True)
    page.get_by_role("button", name="İmzala və təsdiqlə").click()
    page.wait_for_url(re.compile(r"/ssh/\d+$"))
    wait_for_message(page, "Müraciət təsdiqləndi")
    heading = page.get_by_role("heading", name=re.compile(r"^Ətraflı baxış — № ")).inner_text()
    application_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    return application_id, heading.split("№", 1)[1].strip()


def submit_application(page, ui: Ui, person: Person, reason: str = REASON_DOCUMENT) -> tuple[int, str]:
    """An employer's whole confirmed application, straight through the wizard (Təsdiqlə in the last step)."""
    sign_in_card(page)
    open_registry(page)
    fill_wizard(page, ui, person, reason)
    page.get_by_role("button", name="Təsdiqlə", exact=True).click()
    return sign_step(page, ui)
